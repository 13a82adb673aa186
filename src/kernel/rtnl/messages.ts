// Fixed-size rtnetlink headers (ifinfomsg, rtmsg, fib_rule_hdr, ndmsg).

export function ifinfomsg(o: { family?: number; index?: number; flags?: number; change?: number } = {}): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(o.family ?? 0, 0);
  b.writeInt32LE(o.index ?? 0, 4);
  b.writeUInt32LE(o.flags ?? 0, 8);
  b.writeUInt32LE(o.change ?? 0, 12);
  return b;
}

export function rtmsg(o: { family: number; dstLen: number; table: number; protocol: number; scope: number; type: number }): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(o.family, 0);
  b.writeUInt8(o.dstLen, 1);
  b.writeUInt8(o.table > 255 ? 252 /* RT_TABLE_COMPAT */ : o.table, 4);
  b.writeUInt8(o.protocol, 5);
  b.writeUInt8(o.scope, 6);
  b.writeUInt8(o.type, 7);
  return b;
}

export function fibRuleHdr(o: { family: number; table: number; action: number }): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(o.family, 0);
  b.writeUInt8(o.table > 255 ? 0 : o.table, 4);
  b.writeUInt8(o.action, 7);
  return b;
}

export function ndmsg(o: { family: number; ifindex: number; state: number; flags: number }): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(o.family, 0);
  b.writeInt32LE(o.ifindex, 4);
  b.writeUInt16LE(o.state, 8);
  b.writeUInt8(o.flags, 10);
  return b;
}
