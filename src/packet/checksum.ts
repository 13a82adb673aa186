// The Internet checksum (RFC 1071), used by IPv4 headers, UDP and ICMPv6.
export function internetChecksum(...parts: Buffer[]): number {
  let sum = 0;
  let odd: number | undefined;
  for (const buf of parts) {
    let i = 0;
    if (odd !== undefined && buf.length > 0) {
      sum += (odd << 8) | (buf[0] as number);
      odd = undefined;
      i = 1;
    }
    for (; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
    if (i < buf.length) odd = buf[i];
  }
  if (odd !== undefined) sum += odd << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
