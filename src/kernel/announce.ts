// Gratuitous ARP (IPv4) and unsolicited Neighbour Advertisement (IPv6) frames, sent raw on an
// AF_PACKET socket so upstream routers and switches learn at once that an address (a floating
// IP that moved in) now lives behind this host. Frame building is pure; sending uses koffi.
import ipaddr from 'ipaddr.js';
import { KernelError } from './errors.js';
import type { NetnsBinding } from './netns.js';
import { AF_PACKET, SOCK_RAW, closeFn, sendFrame, socketFn } from '../packet/raw.js';

const ETH_P_ARP = 0x0806;
const ETH_P_IPV6 = 0x86dd;

function mac(m: string): Buffer {
  return Buffer.from(m.split(':').map((h) => parseInt(h, 16)));
}

/** Ethernet + ARP request with sender = target = `address` (RFC 5227 announcement). */
export function garpFrame(address: string, srcMac: string): Buffer {
  const f = Buffer.alloc(42);
  Buffer.alloc(6, 0xff).copy(f, 0);
  mac(srcMac).copy(f, 6);
  f.writeUInt16BE(ETH_P_ARP, 12);
  f.writeUInt16BE(1, 14); // htype Ethernet
  f.writeUInt16BE(0x0800, 16);
  f.writeUInt8(6, 18);
  f.writeUInt8(4, 19);
  f.writeUInt16BE(1, 20); // request
  mac(srcMac).copy(f, 22);
  Buffer.from(ipaddr.parse(address).toByteArray()).copy(f, 28);
  // target hardware address stays zero
  Buffer.from(ipaddr.parse(address).toByteArray()).copy(f, 38);
  return f;
}

function checksum(buf: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length % 2) sum += (buf[buf.length - 1] ?? 0) << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Ethernet + IPv6 + ICMPv6 Neighbour Advertisement to ff02::1 with the Override flag (RFC 4861 7.2.6). */
export function unsolicitedNaFrame(address: string, srcMac: string): Buffer {
  const target = Buffer.from(ipaddr.parse(address).toByteArray());
  const dst = Buffer.from(ipaddr.parse('ff02::1').toByteArray());
  const icmp = Buffer.alloc(32);
  icmp.writeUInt8(136, 0); // NA
  icmp.writeUInt32BE(0x20000000, 4); // O flag
  target.copy(icmp, 8);
  icmp.writeUInt8(2, 24); // target link-layer address option
  icmp.writeUInt8(1, 25);
  mac(srcMac).copy(icmp, 26);
  const pseudo = Buffer.alloc(40);
  target.copy(pseudo, 0);
  dst.copy(pseudo, 16);
  pseudo.writeUInt32BE(icmp.length, 32);
  pseudo.writeUInt8(58, 39);
  icmp.writeUInt16BE(checksum(Buffer.concat([pseudo, icmp])), 2);
  const ip6 = Buffer.alloc(40);
  ip6.writeUInt32BE(0x60000000, 0);
  ip6.writeUInt16BE(icmp.length, 4);
  ip6.writeUInt8(58, 6);
  ip6.writeUInt8(255, 7);
  target.copy(ip6, 8);
  dst.copy(ip6, 24);
  const eth = Buffer.alloc(14);
  Buffer.from([0x33, 0x33, 0, 0, 0, 1]).copy(eth, 0);
  mac(srcMac).copy(eth, 6);
  eth.writeUInt16BE(ETH_P_IPV6, 12);
  return Buffer.concat([eth, ip6, icmp]);
}

/**
 * A raw AF_PACKET socket for sending frames in one namespace. Kept open: closing a packet
 * socket waits for an RCU grace period (~10 ms), which made per-announcement sockets dominate
 * a cold converge.
 */
export class FrameSender {
  private fd = -1;

  constructor(private readonly ns: NetnsBinding) {}

  send(ifIndex: number, frame: Buffer): void {
    if (this.fd < 0) {
      this.fd = this.ns.run(() => socketFn(AF_PACKET, SOCK_RAW, 0) as number);
      if (this.fd < 0) throw new KernelError('socket(AF_PACKET)', 0, 'EPERM');
    }
    const errno = sendFrame(this.fd, ifIndex, frame);
    if (errno) throw new KernelError('sendto(AF_PACKET)', errno, 'EIO', `ifindex ${ifIndex}`);
  }

  close(): void {
    if (this.fd >= 0) closeFn(this.fd);
    this.fd = -1;
  }
}

export function announceFrame(address: string, srcMac: string): Buffer {
  return address.includes(':') ? unsolicitedNaFrame(address, srcMac) : garpFrame(address, srcMac);
}
