// Small address helpers over ipaddr.js, so the rest of the code never parses by hand.
import ipaddr from 'ipaddr.js';
import { BoundedMemo } from './memo.js';

export type Family = 4 | 6;

// Parsing through ipaddr.js costs microseconds (IPv6 especially) and the same few subnets and
// addresses are checked over and over (validation, DHCP bindings, diff) for every desired-state
// document: parsed values are memoized in bounded maps.
const MEMO_LIMIT = 16_384;
type Parsed = ipaddr.IPv4 | ipaddr.IPv6;
const parsedAddresses = new BoundedMemo<Parsed>(MEMO_LIMIT);
const parsedCidrs = new BoundedMemo<[Parsed, number]>(MEMO_LIMIT);

const parseAddress = (address: string): Parsed => parsedAddresses.get(address, () => ipaddr.parse(address));
const parseCidrPair = (cidr: string): [Parsed, number] => parsedCidrs.get(cidr, () => ipaddr.parseCIDR(cidr));

function parses(parse: () => unknown): boolean {
  try {
    parse();
    return true;
  } catch {
    return false;
  }
}

/** A plain IPv4 or IPv6 address (no prefix). Memoized. */
export const isValidAddress = (s: string): boolean => !s.includes('/') && parses(() => parseAddress(s));

/** address/prefix-length, as ipaddr.js parses it. Memoized. */
export const isValidCidr = (s: string): boolean => parses(() => parseCidrPair(s));

export function family(address: string): Family {
  return parseAddress(address).kind() === 'ipv4' ? 4 : 6;
}

const canonical = new BoundedMemo<string>(MEMO_LIMIT);

/** Canonical text form (IPv4-mapped IPv6 stays IPv6; IPv6 is compressed lower case). Memoized: hot in the diff. */
export function normalizeAddress(address: string): string {
  return canonical.get(address, () => parseAddress(address).toString());
}

const cidrInfo = new BoundedMemo<{ address: string; prefix: number; family: Family }>(MEMO_LIMIT);
const networkAddresses = new BoundedMemo<string>(MEMO_LIMIT);

/** Memoized; the returned object is shared: do not modify it. */
export function parseCidr(cidr: string): { address: string; prefix: number; family: Family } {
  return cidrInfo.get(cidr, () => {
    const [addr, prefix] = parseCidrPair(cidr);
    return Object.freeze({ address: addr.toString(), prefix, family: addr.kind() === 'ipv4' ? (4 as const) : (6 as const) });
  });
}

/** Network address of a CIDR, e.g. 192.168.1.7/24 -> 192.168.1.0. Memoized. */
export function networkAddress(cidr: string): string {
  return networkAddresses.get(cidr, () => {
    const [addr, prefix] = parseCidrPair(cidr);
    if (addr.kind() === 'ipv4') return ipaddr.IPv4.networkAddressFromCIDR(cidr).toString();
    return ipaddr.IPv6.networkAddressFromCIDR(`${addr.toString()}/${prefix}`).toString();
  });
}

export function cidrContains(cidr: string, address: string): boolean {
  const [net, prefix] = parseCidrPair(cidr);
  const a = parseAddress(address);
  if (a.kind() !== net.kind()) return false;
  return a.match(net, prefix);
}

/** Dotted-quad netmask of an IPv4 prefix length. */
export function ipv4Netmask(prefix: number): string {
  return ipaddr.IPv4.subnetMaskFromPrefixLength(prefix).toString();
}

export function hostPrefix(address: string): string {
  return family(address) === 4 ? `${normalizeAddress(address)}/32` : `${normalizeAddress(address)}/128`;
}

/**
 * The one spelling of an address: IPv4 as a dotted quad without leading zeros, IPv6 compressed
 * in lower case (ipaddr.js's form), no zone; undefined when it does not parse.
 */
export function canonicalAddressOf(s: string): string | undefined {
  if (s.includes('%') || s.includes('/')) return undefined;
  if (!s.includes(':') && !ipaddr.IPv4.isValidFourPartDecimal(s)) return undefined;
  return isValidAddress(s) ? normalizeAddress(s) : undefined;
}

/** The one spelling of a CIDR: a canonical address and a decimal prefix in range; undefined when invalid. */
export function canonicalCidrOf(s: string): string | undefined {
  const slash = s.indexOf('/');
  if (slash < 0 || slash !== s.lastIndexOf('/')) return undefined;
  const addr = canonicalAddressOf(s.slice(0, slash));
  const len = s.slice(slash + 1);
  if (addr === undefined || !/^\d{1,3}$/.test(len) || Number(len) > (addr.includes(':') ? 128 : 32)) return undefined;
  return `${addr}/${Number(len)}`;
}
