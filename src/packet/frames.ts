// Ethernet / IPv4 / UDP framing for replies sent on packet sockets (ports without addresses
// cannot use the IP stack). Pure; parse returns undefined for anything malformed.
import { internetChecksum } from './checksum.js';

export interface UdpFrame {
  srcMac: string;
  dstMac: string;
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  payload: Buffer;
}

const mac = (m: string): Buffer => Buffer.from(m.split(':').map((h) => parseInt(h, 16)));
const macStr = (b: Buffer, off: number): string => [...b.subarray(off, off + 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
const ip4 = (a: string): Buffer => Buffer.from(a.split('.').map(Number));
const ip4Str = (b: Buffer, off: number): string => [...b.subarray(off, off + 4)].join('.');

export function buildUdp4(f: UdpFrame): Buffer {
  const udpLen = 8 + f.payload.length;
  const ip = Buffer.alloc(20);
  ip.writeUInt8(0x45, 0);
  ip.writeUInt16BE(20 + udpLen, 2);
  ip.writeUInt16BE(0x4000, 6); // don't fragment
  ip.writeUInt8(64, 8);
  ip.writeUInt8(17, 9);
  ip4(f.srcIp).copy(ip, 12);
  ip4(f.dstIp).copy(ip, 16);
  ip.writeUInt16BE(internetChecksum(ip), 10);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(f.srcPort, 0);
  udp.writeUInt16BE(f.dstPort, 2);
  udp.writeUInt16BE(udpLen, 4);
  const pseudo = Buffer.concat([ip4(f.srcIp), ip4(f.dstIp), Buffer.from([0, 17, udpLen >> 8, udpLen & 0xff])]);
  const sum = internetChecksum(pseudo, udp, f.payload);
  udp.writeUInt16BE(sum === 0 ? 0xffff : sum, 6);
  const eth = Buffer.alloc(14);
  mac(f.dstMac).copy(eth, 0);
  mac(f.srcMac).copy(eth, 6);
  eth.writeUInt16BE(0x0800, 12);
  return Buffer.concat([eth, ip, udp, f.payload]);
}

/** Parse an Ethernet frame carrying IPv4/UDP (no IP options beyond IHL, no fragments). */
export function parseUdp4(frame: Buffer): UdpFrame | undefined {
  if (frame.length < 14 + 20 + 8 || frame.readUInt16BE(12) !== 0x0800) return undefined;
  const ipOff = 14;
  const vihl = frame.readUInt8(ipOff);
  const ihl = (vihl & 0x0f) * 4;
  if (vihl >> 4 !== 4 || ihl < 20 || frame.length < ipOff + ihl + 8) return undefined;
  if (frame.readUInt8(ipOff + 9) !== 17) return undefined;
  if ((frame.readUInt16BE(ipOff + 6) & 0x3fff) !== 0) return undefined; // fragment
  const totalLen = frame.readUInt16BE(ipOff + 2);
  if (totalLen < ihl + 8 || ipOff + totalLen > frame.length) return undefined;
  const udpOff = ipOff + ihl;
  const udpLen = frame.readUInt16BE(udpOff + 4);
  if (udpLen < 8 || udpOff + udpLen > ipOff + totalLen) return undefined;
  return {
    dstMac: macStr(frame, 0),
    srcMac: macStr(frame, 6),
    srcIp: ip4Str(frame, ipOff + 12),
    dstIp: ip4Str(frame, ipOff + 16),
    srcPort: frame.readUInt16BE(udpOff),
    dstPort: frame.readUInt16BE(udpOff + 2),
    payload: frame.subarray(udpOff + 8, udpOff + udpLen),
  };
}
