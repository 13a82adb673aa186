// Small address helpers over ipaddr.js, so the rest of the code never parses by hand.
import ipaddr from 'ipaddr.js';

export type Family = 4 | 6;

export function family(address: string): Family {
  return ipaddr.parse(address).kind() === 'ipv4' ? 4 : 6;
}

const canonical = new Map<string, string>();

/** Canonical text form (IPv4-mapped IPv6 stays IPv6; IPv6 is compressed lower case). Memoized: hot in the diff. */
export function normalizeAddress(address: string): string {
  let c = canonical.get(address);
  if (c === undefined) {
    c = ipaddr.parse(address).toString();
    if (canonical.size > 100_000) canonical.clear();
    canonical.set(address, c);
  }
  return c;
}

export function parseCidr(cidr: string): { address: string; prefix: number; family: Family } {
  const [addr, prefix] = ipaddr.parseCIDR(cidr);
  return { address: addr.toString(), prefix, family: addr.kind() === 'ipv4' ? 4 : 6 };
}

/** Network address of a CIDR, e.g. 192.168.1.7/24 -> 192.168.1.0. */
export function networkAddress(cidr: string): string {
  const [addr, prefix] = ipaddr.parseCIDR(cidr);
  if (addr.kind() === 'ipv4') return ipaddr.IPv4.networkAddressFromCIDR(cidr).toString();
  return ipaddr.IPv6.networkAddressFromCIDR(`${addr.toString()}/${prefix}`).toString();
}

export function cidrContains(cidr: string, address: string): boolean {
  const [net, prefix] = ipaddr.parseCIDR(cidr);
  const a = ipaddr.parse(address);
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
