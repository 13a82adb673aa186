// Address and pool arithmetic. Pure: callers pass what is used, inside the transaction.
import ipaddr from 'ipaddr.js';

function toBig(a: string): bigint {
  return ipaddr.parse(a).toByteArray().reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
}

/** The address with numeric value `n` (IPv6 when `v6`). */
export function addressFromValue(n: bigint, v6: boolean): string {
  const len = v6 ? 16 : 4;
  const bytes: number[] = [];
  for (let i = len - 1; i >= 0; i--) bytes.push(Number((n >> BigInt(i * 8)) & 0xffn));
  return ipaddr.fromByteArray(bytes).toString();
}

export interface Pool {
  start: string;
  end: string;
}

/** Default pool: the whole subnet minus network, broadcast (v4) and gateway. */
export function defaultPools(cidr: string, gateway: string | undefined): Pool[] {
  const [net, prefix] = ipaddr.parseCIDR(cidr);
  const v6 = net.kind() === 'ipv6';
  const bits = v6 ? 128 : 32;
  const base = toBig(net.toString()) & ~((1n << BigInt(bits - prefix)) - 1n);
  const size = 1n << BigInt(bits - prefix);
  let first = base + 1n;
  let last = v6 ? base + size - 1n : base + size - 2n;
  if (v6 && size > 1n << 16n) last = base + (1n << 16n); // keep IPv6 pools listable
  const gw = gateway ? toBig(gateway) : undefined;
  if (gw === first) first += 1n;
  if (gw === last) last -= 1n;
  return [{ start: addressFromValue(first, v6), end: addressFromValue(last, v6) }];
}

/** First address of `pools` not in `used` (and not the gateway). */
export function firstFree(pools: Pool[], used: ReadonlySet<string>, gateway: string | undefined): string | undefined {
  for (const p of pools) {
    const v6 = p.start.includes(':');
    for (let a = toBig(p.start), end = toBig(p.end); a <= end; a++) {
      const s = addressFromValue(a, v6);
      if (!used.has(s) && s !== gateway) return s;
    }
  }
  return undefined;
}

/**
 * First free address at or after `hint` (the lowest address that may be free), checking one
 * address at a time through `isUsed` (an indexed lookup), so an allocation costs O(1) amortized
 * instead of loading every used address. Returns the address and the next hint.
 */
export function firstFreeFrom(pools: Pool[], isUsed: (a: string) => boolean, gateway: string | undefined, hint: bigint | undefined): { address: string; next: bigint } | undefined {
  for (const p of pools) {
    const v6 = p.start.includes(':');
    const end = toBig(p.end);
    let a = toBig(p.start);
    if (hint !== undefined && hint > a) a = hint;
    for (; a <= end; a++) {
      const s = addressFromValue(a, v6);
      if (s !== gateway && !isUsed(s)) return { address: s, next: a + 1n };
    }
  }
  return undefined;
}

export function addressValue(a: string): bigint {
  return toBig(a);
}

export function inPools(pools: Pool[], address: string): boolean {
  const a = toBig(address);
  return pools.some((p) => a >= toBig(p.start) && a <= toBig(p.end));
}

export function poolSize(pools: Pool[]): number {
  return pools.reduce((n, p) => n + Number(toBig(p.end) - toBig(p.start) + 1n), 0);
}

/** The n-th /24 of a private range, e.g. 192.168.0.0/16 -> 192.168.1.0/24 for n = 1. */
export function nthSubnet24(range: string, n: number): string | undefined {
  const [net, prefix] = ipaddr.parseCIDR(range);
  if (net.kind() !== 'ipv4' || prefix > 24 || n >= 2 ** (24 - prefix)) return undefined;
  return `${addressFromValue(toBig(net.toString()) + (BigInt(n) << 8n), false)}/24`;
}
