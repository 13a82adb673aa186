// The IPAM invariants as pure checks: what a subnet's CIDR, pools, gateway and host routes must
// satisfy, and when two subnets overlap. The API decoders and the service use them for errors
// that name the field; the store uses the same functions as its last line of defence (SQLite
// triggers call cidrsOverlap and poolsProblem), so no path around the service can break them.
import ipaddr from 'ipaddr.js';
import { addressFromValue, addressValue, type Pool } from './ipam.js';

/** A problem with one field: its name (a path such as allocation_pools[1].start) and why. */
export interface FieldProblem {
  field: string;
  reason: string;
}

/** A strict address: four decimal octets for IPv4 (not 127.1 or 0x7f.0.0.1), no zone for IPv6. */
export function isStrictAddress(s: string): boolean {
  if (s.includes('%') || s.includes('/')) return false;
  return ipaddr.IPv4.isValidFourPartDecimal(s) || (s.includes(':') && ipaddr.IPv6.isValid(s));
}

/** address/prefix with a strict address and a decimal prefix in range. */
export function isStrictCidr(s: string): boolean {
  const slash = s.indexOf('/');
  if (slash < 0 || slash !== s.lastIndexOf('/')) return false;
  const [addr, len] = [s.slice(0, slash), s.slice(slash + 1)];
  if (!isStrictAddress(addr) || !/^\d{1,3}$/.test(len)) return false;
  return Number(len) <= (addr.includes(':') ? 128 : 32);
}

interface Range {
  v6: boolean;
  first: bigint;
  last: bigint;
  prefix: number;
}

function range(cidr: string): Range {
  const [net, prefix] = ipaddr.parseCIDR(cidr);
  const v6 = net.kind() === 'ipv6';
  const bits = BigInt(v6 ? 128 : 32);
  const size = 1n << (bits - BigInt(prefix));
  const first = addressValue(net.toString()) & ~(size - 1n);
  return { v6, first, last: first + size - 1n, prefix };
}

/** Whether two CIDRs share any address (never across IP versions). */
export function cidrsOverlap(a: string, b: string): boolean {
  const x = range(a);
  const y = range(b);
  return x.v6 === y.v6 && x.first <= y.last && y.first <= x.last;
}

// Ranges no VM network may take: their addresses mean something else to every host.
const RESERVED_RANGES = ['loopback', 'multicast', 'linkLocal', 'unspecified', 'broadcast'];

/**
 * A subnet CIDR (already a strict CIDR): network address without host bits, a prefix that leaves
 * room for VMs (IPv4 /8 to /30, IPv6 /16 to /126), not in a reserved range.
 */
export function cidrProblem(field: string, cidr: string): FieldProblem | undefined {
  const [net, prefix] = ipaddr.parseCIDR(cidr);
  const v6 = net.kind() === 'ipv6';
  const r = range(cidr);
  if (addressValue(net.toString()) !== r.first) {
    return { field, reason: `'${cidr}' has host bits set (the network is ${addressFromValue(r.first, v6)}/${prefix})` };
  }
  const [lo, hi] = v6 ? [16, 126] : [8, 30];
  if (prefix < lo || prefix > hi) return { field, reason: `'${cidr}' has a /${prefix} prefix; a subnet's prefix is /${lo} to /${hi} for IPv${v6 ? 6 : 4}` };
  const kind = net.range();
  if (RESERVED_RANGES.includes(kind)) return { field, reason: `'${cidr}' is in the ${kind} range, which no VM network may use` };
  return undefined;
}

const familyOf = (a: string): 4 | 6 => (a.includes(':') ? 6 : 4);

/** An address of the subnet that a host may hold: inside it, not its network or broadcast address. */
function hostAddressProblem(field: string, cidr: string, address: string): FieldProblem | undefined {
  const r = range(cidr);
  if (familyOf(address) !== (r.v6 ? 6 : 4)) return { field, reason: `${address} is not an IPv${r.v6 ? 6 : 4} address like ${cidr}` };
  const a = addressValue(address);
  if (a < r.first || a > r.last) return { field, reason: `${address} is outside ${cidr}` };
  if (a === r.first) return { field, reason: `${address} is the network address of ${cidr}` };
  if (!r.v6 && a === r.last) return { field, reason: `${address} is the broadcast address of ${cidr}` };
  return undefined;
}

export function gatewayProblem(cidr: string, gateway: string): FieldProblem | undefined {
  return hostAddressProblem('gateway_ip', cidr, gateway);
}

/** Pools inside the subnet, start <= end, disjoint, not holding the gateway. */
export function poolsProblem(cidr: string, pools: readonly Pool[], gateway: string | null): FieldProblem | undefined {
  const spans: { i: number; lo: bigint; hi: bigint }[] = [];
  for (const [i, p] of pools.entries()) {
    const field = `allocation_pools[${i}]`;
    const bad = hostAddressProblem(`${field}.start`, cidr, p.start) ?? hostAddressProblem(`${field}.end`, cidr, p.end);
    if (bad) return bad;
    const [lo, hi] = [addressValue(p.start), addressValue(p.end)];
    if (lo > hi) return { field, reason: `start ${p.start} is after end ${p.end}` };
    if (gateway !== null && familyOf(gateway) === familyOf(p.start)) {
      const g = addressValue(gateway);
      if (g >= lo && g <= hi) return { field, reason: `the pool ${p.start}-${p.end} holds the gateway ${gateway}` };
    }
    const other = spans.find((s) => s.lo <= hi && lo <= s.hi);
    if (other) return { field, reason: `overlaps allocation_pools[${other.i}]` };
    spans.push({ i, lo, hi });
  }
  return undefined;
}

export interface HostRoute {
  destination: string;
  nexthop: string;
}

/** Each route: a destination CIDR without host bits, a next hop inside the subnet. */
export function hostRoutesProblem(cidr: string, routes: readonly HostRoute[]): FieldProblem | undefined {
  for (const [i, r] of routes.entries()) {
    const field = `host_routes[${i}]`;
    const [net] = ipaddr.parseCIDR(r.destination);
    const dest = range(r.destination);
    if (addressValue(net.toString()) !== dest.first) return { field: `${field}.destination`, reason: `'${r.destination}' has host bits set` };
    if (dest.v6 !== (familyOf(r.nexthop) === 6)) return { field: `${field}.nexthop`, reason: `${r.nexthop} is not of the family of ${r.destination}` };
    const hop = hostAddressProblem(`${field}.nexthop`, cidr, r.nexthop);
    if (hop) return { field: hop.field, reason: `${hop.reason} (a next hop must be on the subnet)` };
  }
  return undefined;
}
