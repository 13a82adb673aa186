// Ethernet / IPv4 / UDP framing for replies sent on packet sockets (ports without addresses
// cannot use the IP stack). Pure; parse returns undefined for anything malformed.
import { checksumAdd, foldChecksum } from './checksum.js';

export interface UdpFrame {
  srcMac: string;
  dstMac: string;
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  payload: Buffer;
}

/** Ethernet + IPv4 (no options) + UDP headers: where a payload starts in a built frame. */
export const UDP4_HEADERS = 14 + 20 + 8;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** "aa:bb:cc:dd:ee:ff" of the 6 bytes at `off`. */
export function macString(b: Uint8Array, off: number): string {
  return `${HEX[b[off] as number]}:${HEX[b[off + 1] as number]}:${HEX[b[off + 2] as number]}:${HEX[b[off + 3] as number]}:${HEX[b[off + 4] as number]}:${HEX[b[off + 5] as number]}`;
}

/** Dotted quad of the 4 bytes at `off`. */
export function ip4String(b: Uint8Array, off: number): string {
  return `${b[off] as number}.${b[off + 1] as number}.${b[off + 2] as number}.${b[off + 3] as number}`;
}

// Replies go to a handful of addresses over and over: remember their bytes (bounded).
const memo = new Map<string, Buffer>();
function memoBytes(s: string, parse: (s: string) => Buffer): Buffer {
  let b = memo.get(s);
  if (!b) {
    if (memo.size >= 4096) memo.clear();
    b = parse(s);
    memo.set(s, b);
  }
  return b;
}
/** The 6 bytes of a MAC string (the result is shared: do not modify it). */
export const macBytes = (m: string): Buffer => memoBytes(m, (s) => Buffer.from(s.split(':').map((h) => parseInt(h, 16))));
/** The 4 bytes of a dotted quad (the result is shared: do not modify it). */
export const ip4Bytes = (a: string): Buffer => memoBytes(a, (s) => Buffer.from(s.split('.').map(Number)));

/**
 * Write the Ethernet, IPv4 and UDP headers (checksums included) in front of a payload of
 * `payloadLength` bytes already placed at `frame[UDP4_HEADERS]`; returns the frame length.
 */
export function writeUdp4Headers(frame: Buffer, f: Omit<UdpFrame, 'payload'>, payloadLength: number): number {
  const udpLen = 8 + payloadLength;
  macBytes(f.dstMac).copy(frame, 0);
  macBytes(f.srcMac).copy(frame, 6);
  frame.writeUInt16BE(0x0800, 12);
  const src = ip4Bytes(f.srcIp);
  const dst = ip4Bytes(f.dstIp);
  // IPv4 header at 14
  frame[14] = 0x45;
  frame[15] = 0;
  frame.writeUInt16BE(20 + udpLen, 16);
  frame.writeUInt32BE(0, 18); // id 0
  frame.writeUInt16BE(0x4000, 20); // don't fragment
  frame[22] = 64;
  frame[23] = 17;
  frame.writeUInt16BE(0, 24);
  src.copy(frame, 26);
  dst.copy(frame, 30);
  frame.writeUInt16BE(foldChecksum(checksumAdd(0, frame, 14, 34)), 24);
  // UDP header at 34, checksum over the pseudo header (RFC 768), the header and the payload
  frame.writeUInt16BE(f.srcPort, 34);
  frame.writeUInt16BE(f.dstPort, 36);
  frame.writeUInt16BE(udpLen, 38);
  frame.writeUInt16BE(0, 40);
  let sum = checksumAdd(0, frame, 26, 34) + 17 + udpLen;
  sum = checksumAdd(sum, frame, 34, 34 + udpLen);
  const udpSum = foldChecksum(sum);
  frame.writeUInt16BE(udpSum === 0 ? 0xffff : udpSum, 40);
  return UDP4_HEADERS + payloadLength;
}

export function buildUdp4(f: UdpFrame): Buffer {
  const frame = Buffer.alloc(UDP4_HEADERS + f.payload.length);
  f.payload.copy(frame, UDP4_HEADERS);
  writeUdp4Headers(frame, f, f.payload.length);
  return frame;
}

/** Where the UDP payload of an Ethernet/IPv4/UDP frame lies, after the same checks as parseUdp4. */
export interface Udp4Bounds {
  payloadOffset: number;
  payloadLength: number;
  srcPort: number;
  dstPort: number;
}

export function locateUdp4(frame: Buffer): Udp4Bounds | undefined {
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
  return { payloadOffset: udpOff + 8, payloadLength: udpLen - 8, srcPort: frame.readUInt16BE(udpOff), dstPort: frame.readUInt16BE(udpOff + 2) };
}

/** Parse an Ethernet frame carrying IPv4/UDP (no IP options beyond IHL, no fragments). */
export function parseUdp4(frame: Buffer): UdpFrame | undefined {
  const at = locateUdp4(frame);
  if (!at) return undefined;
  return {
    dstMac: macString(frame, 0),
    srcMac: macString(frame, 6),
    srcIp: ip4String(frame, 26),
    dstIp: ip4String(frame, 30),
    srcPort: at.srcPort,
    dstPort: at.dstPort,
    payload: frame.subarray(at.payloadOffset, at.payloadOffset + at.payloadLength),
  };
}
