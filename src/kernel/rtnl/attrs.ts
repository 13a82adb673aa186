// Netlink attribute (TLV) encoding and decoding: 2-byte length, 2-byte type, payload padded
// to 4 bytes. Small and explicit so nested attributes (IFLA_LINKINFO) are easy to build.
export const NLA_F_NESTED = 0x8000;

export function align4(n: number): number {
  return (n + 3) & ~3;
}

export function attr(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const out = Buffer.alloc(align4(len));
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, 4);
  return out;
}

export const nested = (type: number, children: Buffer[]): Buffer => attr(type | NLA_F_NESTED, Buffer.concat(children));
export const u8 = (type: number, v: number): Buffer => attr(type, Buffer.from([v & 0xff]));
export function u16(type: number, v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return attr(type, b);
}
export function u16be(type: number, v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return attr(type, b);
}
export function u32(type: number, v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return attr(type, b);
}
export const str = (type: number, s: string): Buffer => attr(type, Buffer.concat([Buffer.from(s), Buffer.from([0])]));
export const bytes = (type: number, b: Buffer): Buffer => attr(type, b);

/** Parse a run of attributes into type -> payload (nested flag stripped; last one wins). `only`: keep just these types. */
export function parseAttrs(buf: Buffer, only?: ReadonlySet<number>): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off);
    const type = buf.readUInt16LE(off + 2) & ~NLA_F_NESTED & 0x7fff;
    if (len < 4 || off + len > buf.length) break;
    if (!only || only.has(type)) out.set(type, buf.subarray(off + 4, off + len));
    off += align4(len);
  }
  return out;
}

export function readString(b: Buffer | undefined): string | undefined {
  if (!b) return undefined;
  const end = b.indexOf(0);
  return b.subarray(0, end < 0 ? b.length : end).toString();
}

export const readU8 = (b: Buffer | undefined): number | undefined => (b && b.length >= 1 ? b.readUInt8(0) : undefined);
export const readU16 = (b: Buffer | undefined): number | undefined => (b && b.length >= 2 ? b.readUInt16LE(0) : undefined);
export const readU16be = (b: Buffer | undefined): number | undefined => (b && b.length >= 2 ? b.readUInt16BE(0) : undefined);
export const readU32 = (b: Buffer | undefined): number | undefined => (b && b.length >= 4 ? b.readUInt32LE(0) : undefined);
