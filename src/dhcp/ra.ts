// IPv6 Router Advertisements (RFC 4861 4.2) for a port: PIO with finite lifetimes (RFC 4861
// 4.6.2), source link-layer address (4.6.1), MTU (4.6.4), RDNSS (RFC 8106), M/O flags per the
// subnet's ipv6Mode. Sent to the solicitation's source address, never to a guess. Pure.
import ipaddr from 'ipaddr.js';
import { internetChecksum } from '../packet/checksum.js';
import type { HostState, Subnet } from '../state/schema.js';
import { portIfname } from '../state/names.js';
import { parseCidr } from '../util/ip.js';

export interface RaBinding {
  ifname: string;
  mtu: number;
  subnets: Subnet[];
}

export function raBindings(state: HostState): Map<string, RaBinding> {
  const out = new Map<string, RaBinding>();
  const nets = new Map(state.networks.map((n) => [n.id, n]));
  for (const p of state.ports) {
    if (p.standby) continue; // a live migration's destination advertises nothing before the switch
    const net = nets.get(p.network);
    const v6 = net?.subnets.filter((s) => s.dhcp && parseCidr(s.cidr).family === 6) ?? [];
    if (net && v6.length) out.set(portIfname(p), { ifname: portIfname(p), mtu: net.mtu, subnets: v6 });
  }
  return out;
}

/** The router's own link-local address on the port: EUI-64 of the port device's MAC. */
export function linkLocalOf(mac: string): string {
  const b = mac.split(':').map((h) => parseInt(h, 16));
  const eui = [((b[0] ?? 0) ^ 0x02) & 0xff, b[1] ?? 0, b[2] ?? 0, 0xff, 0xfe, b[3] ?? 0, b[4] ?? 0, b[5] ?? 0];
  return ipaddr.fromByteArray([0xfe, 0x80, 0, 0, 0, 0, 0, 0, ...eui]).toString();
}

const bytes = (a: string): Buffer => Buffer.from(ipaddr.parse(a).toByteArray());
const macBytes = (m: string): Buffer => Buffer.from(m.split(':').map((h) => parseInt(h, 16)));

export const RA_LIFETIMES = { router: 1800, valid: 86400, preferred: 14400, rdnss: 1800 } as const;

/** Ethernet + IPv6 + ICMPv6 RA from the port's link-local to `dst` (RS source, or ff02::1). */
export function buildRa(b: RaBinding, srcMac: string, dst: { ip: string; mac: string }): Buffer {
  const managed = b.subnets.some((s) => s.ipv6Mode === 'dhcpv6-stateful');
  const other = managed || b.subnets.some((s) => s.ipv6Mode === 'dhcpv6-stateless');
  const opts: Buffer[] = [];
  const sllao = Buffer.alloc(8);
  sllao.writeUInt8(1, 0);
  sllao.writeUInt8(1, 1);
  macBytes(srcMac).copy(sllao, 2);
  opts.push(sllao);
  const mtu = Buffer.alloc(8);
  mtu.writeUInt8(5, 0);
  mtu.writeUInt8(1, 1);
  mtu.writeUInt32BE(b.mtu, 4);
  opts.push(mtu);
  for (const s of b.subnets) {
    const { address, prefix } = parseCidr(s.cidr);
    const pio = Buffer.alloc(32);
    pio.writeUInt8(3, 0);
    pio.writeUInt8(4, 1);
    pio.writeUInt8(prefix, 2);
    // on-link (L) always; autonomous (A) unless addresses come from stateful DHCPv6
    pio.writeUInt8(0x80 | (s.ipv6Mode === 'dhcpv6-stateful' ? 0 : 0x40), 3);
    pio.writeUInt32BE(RA_LIFETIMES.valid, 4);
    pio.writeUInt32BE(RA_LIFETIMES.preferred, 8);
    bytes(address).copy(pio, 16);
    opts.push(pio);
  }
  const dns = [...new Set(b.subnets.flatMap((s) => s.dns.filter((d) => d.includes(':'))))];
  if (dns.length) {
    const rdnss = Buffer.alloc(8 + 16 * dns.length);
    rdnss.writeUInt8(25, 0);
    rdnss.writeUInt8(1 + 2 * dns.length, 1);
    rdnss.writeUInt32BE(RA_LIFETIMES.rdnss, 4);
    dns.forEach((d, i) => bytes(d).copy(rdnss, 8 + 16 * i));
    opts.push(rdnss);
  }
  const head = Buffer.alloc(16);
  head.writeUInt8(134, 0);
  head.writeUInt8(64, 4); // cur hop limit
  head.writeUInt8((managed ? 0x80 : 0) | (other ? 0x40 : 0), 5);
  head.writeUInt16BE(RA_LIFETIMES.router, 6);
  const icmp = Buffer.concat([head, ...opts]);
  const src = linkLocalOf(srcMac);
  const pseudo = Buffer.alloc(40);
  bytes(src).copy(pseudo, 0);
  bytes(dst.ip).copy(pseudo, 16);
  pseudo.writeUInt32BE(icmp.length, 32);
  pseudo.writeUInt8(58, 39);
  icmp.writeUInt16BE(internetChecksum(pseudo, icmp), 2);
  const ip6 = Buffer.alloc(40);
  ip6.writeUInt32BE(0x60000000, 0);
  ip6.writeUInt16BE(icmp.length, 4);
  ip6.writeUInt8(58, 6);
  ip6.writeUInt8(255, 7);
  bytes(src).copy(ip6, 8);
  bytes(dst.ip).copy(ip6, 24);
  const eth = Buffer.alloc(14);
  macBytes(dst.mac).copy(eth, 0);
  macBytes(srcMac).copy(eth, 6);
  eth.writeUInt16BE(0x86dd, 12);
  return Buffer.concat([eth, ip6, icmp]);
}

/** Source of a Router Solicitation frame (IPv6 + Ethernet), or undefined if malformed. */
export function parseRs(frame: Buffer): { ip: string; mac: string } | undefined {
  if (frame.length < 14 + 40 + 8 || frame.readUInt16BE(12) !== 0x86dd || frame.readUInt8(20) !== 58 || frame.readUInt8(54) !== 133) return undefined;
  if (frame.readUInt8(21) !== 255) return undefined; // RFC 4861 6.1.1: hop limit must be 255
  const ip = ipaddr.fromByteArray([...frame.subarray(22, 38)]).toString();
  const mac = [...frame.subarray(6, 12)].map((x) => x.toString(16).padStart(2, '0')).join(':');
  // an unspecified source (no address yet) is answered to all-nodes (RFC 4861 6.2.6)
  return ip === '::' ? { ip: 'ff02::1', mac: '33:33:00:00:00:01' } : { ip, mac };
}
