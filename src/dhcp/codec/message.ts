// DHCPv4 message codec (RFC 2131 section 2 for the fixed BOOTP fields, RFC 2132 for the
// options area). Pure and total: parse returns undefined for anything malformed.
import { ip4Bytes, ip4String as ip, macBytes, macString } from '../../packet/frames.js';

export const MAGIC_COOKIE = 0x63825363; // RFC 2131 3. / RFC 1497

export enum MessageType {
  DISCOVER = 1,
  OFFER = 2,
  REQUEST = 3,
  DECLINE = 4,
  ACK = 5,
  NAK = 6,
  RELEASE = 7,
  INFORM = 8,
}

export interface DhcpMessage {
  op: 1 | 2;
  xid: number;
  secs: number;
  /** Bit 15: the client asks for broadcast replies (RFC 2131 4.1). */
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  chaddr: string;
  /**
   * code -> raw value, in order of appearance (pad/end excluded). Parsed values may share
   * memory with the parsed buffer: copy them to keep them past the buffer's reuse.
   */
  options: Map<number, Buffer>;
}

export function parseMessage(b: Buffer): DhcpMessage | undefined {
  if (b.length < 240) return undefined;
  const op = b.readUInt8(0);
  if (op !== 1 && op !== 2) return undefined;
  if (b.readUInt8(1) !== 1 || b.readUInt8(2) !== 6) return undefined; // Ethernet only
  if (b.readUInt32BE(236) !== MAGIC_COOKIE) return undefined;
  const options = new Map<number, Buffer>();
  let i = 240;
  let ended = false;
  while (i < b.length) {
    const code = b.readUInt8(i);
    if (code === 0) {
      i += 1;
      continue;
    }
    if (code === 255) {
      ended = true;
      break;
    }
    if (i + 1 >= b.length) return undefined;
    const len = b.readUInt8(i + 1);
    if (i + 2 + len > b.length) return undefined;
    const value = b.subarray(i + 2, i + 2 + len);
    // RFC 3396: repeated options are concatenated
    const prev = options.get(code);
    options.set(code, prev ? Buffer.concat([prev, value]) : value);
    i += 2 + len;
  }
  if (!ended) return undefined;
  return {
    op,
    xid: b.readUInt32BE(4),
    secs: b.readUInt16BE(8),
    flags: b.readUInt16BE(10),
    ciaddr: ip(b, 12),
    yiaddr: ip(b, 16),
    siaddr: ip(b, 20),
    giaddr: ip(b, 24),
    chaddr: macString(b, 28),
    options,
  };
}

/** BOOTP's fixed part (RFC 2131 2., 236 bytes) and the magic cookie, written at `off`. */
export function writeFixedHeader(m: Omit<DhcpMessage, 'options'>, into: Buffer, off = 0): void {
  into.fill(0, off, off + 240);
  into[off] = m.op;
  into[off + 1] = 1;
  into[off + 2] = 6;
  into.writeUInt32BE(m.xid >>> 0, off + 4);
  into.writeUInt16BE(m.secs, off + 8);
  into.writeUInt16BE(m.flags, off + 10);
  ip4Bytes(m.ciaddr).copy(into, off + 12);
  ip4Bytes(m.yiaddr).copy(into, off + 16);
  ip4Bytes(m.siaddr).copy(into, off + 20);
  ip4Bytes(m.giaddr).copy(into, off + 24);
  macBytes(m.chaddr).copy(into, off + 28);
  into.writeUInt32BE(MAGIC_COOKIE, off + 236);
}

/** The options area after the cookie: each option (RFC 3396: split past 255 bytes), then end. */
export function encodeOptions(options: Map<number, Buffer>): Buffer {
  const opts: Buffer[] = [];
  for (const [code, value] of options) {
    // RFC 3396: values over 255 bytes are split into several instances
    for (let off = 0; off < value.length || off === 0; off += 255) {
      const part = value.subarray(off, off + 255);
      opts.push(Buffer.from([code, part.length]), part);
      if (value.length === 0) break;
    }
  }
  opts.push(Buffer.from([255]));
  return Buffer.concat(opts);
}

/** Fixed part, cookie and options, padded to the BOOTP minimum of 300 bytes (some clients drop shorter replies). */
export const messageLength = (encodedOptions: Buffer): number => Math.max(300, 240 + encodedOptions.length);

export function serializeMessage(m: DhcpMessage): Buffer {
  const opts = encodeOptions(m.options);
  const out = Buffer.alloc(messageLength(opts));
  writeFixedHeader(m, out);
  opts.copy(out, 240);
  return out;
}
