// The Internet checksum (RFC 1071), used by IPv4 headers, UDP and ICMPv6.

/**
 * Add the 16-bit big-endian words of `buf[start, end)` to a running one's-complement sum (an
 * odd byte at the end counts as its high half). Start a region at an even offset of the
 * checksummed data; finish with foldChecksum.
 */
export function checksumAdd(sum: number, buf: Uint8Array, start = 0, end = buf.length): number {
  let i = start;
  for (; i + 1 < end; i += 2) sum += ((buf[i] as number) << 8) | (buf[i + 1] as number);
  if (i < end) sum += (buf[i] as number) << 8;
  return sum;
}

/** Fold a running sum to 16 bits and complement it. */
export function foldChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

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
    const even = i + ((buf.length - i) & ~1);
    sum = checksumAdd(sum, buf, i, even);
    if (even < buf.length) odd = buf[even];
  }
  if (odd !== undefined) sum += odd << 8;
  return foldChecksum(sum);
}
