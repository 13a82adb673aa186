// DHCPv4 message codec (RFC 2131 section 2 for the fixed BOOTP fields, RFC 2132 for the
// options area). Pure and total: parse returns undefined for anything malformed.
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
  /** code -> raw value, in order of appearance (pad/end excluded). */
  options: Map<number, Buffer>;
}

const ip = (b: Buffer, o: number): string => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;

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
    options.set(code, prev ? Buffer.concat([prev, value]) : Buffer.from(value));
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
    chaddr: [...b.subarray(28, 34)].map((x) => x.toString(16).padStart(2, '0')).join(':'),
    options,
  };
}

const ipBytes = (a: string): number[] => a.split('.').map(Number);

export function serializeMessage(m: DhcpMessage): Buffer {
  const head = Buffer.alloc(240);
  head.writeUInt8(m.op, 0);
  head.writeUInt8(1, 1);
  head.writeUInt8(6, 2);
  head.writeUInt32BE(m.xid >>> 0, 4);
  head.writeUInt16BE(m.secs, 8);
  head.writeUInt16BE(m.flags, 10);
  Buffer.from(ipBytes(m.ciaddr)).copy(head, 12);
  Buffer.from(ipBytes(m.yiaddr)).copy(head, 16);
  Buffer.from(ipBytes(m.siaddr)).copy(head, 20);
  Buffer.from(ipBytes(m.giaddr)).copy(head, 24);
  Buffer.from(m.chaddr.split(':').map((h) => parseInt(h, 16))).copy(head, 28);
  head.writeUInt32BE(MAGIC_COOKIE, 236);
  const opts: Buffer[] = [];
  for (const [code, value] of m.options) {
    // RFC 3396: values over 255 bytes are split into several instances
    for (let off = 0; off < value.length || off === 0; off += 255) {
      const part = value.subarray(off, off + 255);
      opts.push(Buffer.from([code, part.length]), part);
      if (value.length === 0) break;
    }
  }
  const body = Buffer.concat([head, ...opts, Buffer.from([255])]);
  // pad to the BOOTP minimum of 300 bytes: some clients drop shorter replies
  return body.length < 300 ? Buffer.concat([body, Buffer.alloc(300 - body.length)]) : body;
}
