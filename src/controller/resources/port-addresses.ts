// The addresses a new port takes. On a private network: what it asks for, or the first free
// address of each IP version. On a public network every address is a floating IP of the port's
// project, however it was asked for (as in Cyclades): a reserved one by its address, or one
// taken now, counted against the floating-IP quota and released with the port. The other IP
// version (IPv6 beside an IPv4 floating IP) comes with it, one per port and uncounted, so the
// number of public ports a project holds never exceeds its floating-IP quota.
import type { ControllerConfig } from '../config.js';
import { BadRequestError, ForbiddenError, IpAddressInUseError, OverQuotaError, PoolExhaustedError } from '../errors.js';
import type { FixedIpRow, NetworkRow, SubnetRow } from '../rows.js';
import { now } from '../service-core.js';
import type { StoreTx } from '../store.js';
import { cidrContains } from '../../util/ip.js';

/** What a new port asks for, decoded (CreatePortRequest) or made by the service (attachments). */
export interface PortSpec {
  deviceId: string;
  host: string | null;
  fixedIps: { ip_address?: string; subnet_id?: string }[];
  mac?: string;
  profile: Record<string, unknown>;
  firewall: string;
  name?: string;
}

/** Whose port it is: its project, and whether the caller is the operator (who may place unreserved public addresses). */
export interface PortOwner {
  project: string;
  admin: boolean;
}

type Want = PortSpec['fixedIps'][number];

/** The subnet a requested address lies in (addresses arrive canonical from the decoders). */
export function requestedSubnet(subnets: readonly SubnetRow[], n: NetworkRow, want: Want, field: string): SubnetRow {
  const inSubnet = want.subnet_id === undefined ? undefined : subnets.find((x) => String(x.id) === want.subnet_id);
  if (want.subnet_id !== undefined && !inSubnet) throw new BadRequestError(`${field}.subnet_id`, `subnet ${want.subnet_id} is not a subnet of network ${n.id}`);
  if (want.ip_address === undefined) return inSubnet as SubnetRow;
  const ip = want.ip_address;
  const s = inSubnet ?? subnets.find((x) => cidrContains(x.cidr, ip));
  if (!s || !cidrContains(s.cidr, ip)) throw new BadRequestError(`${field}.ip_address`, `${ip} is outside ${inSubnet ? `subnet ${inSubnet.id} (${inSubnet.cidr})` : `every subnet of network ${n.id}`}`);
  return s;
}

const exhausted = (n: NetworkRow, s: SubnetRow): PoolExhaustedError => new PoolExhaustedError(`No more IP addresses available on network ${n.id} (subnet ${s.cidr})`);

export async function firstFree(tx: StoreTx, n: NetworkRow, s: SubnetRow): Promise<string> {
  const ip = await tx.firstFreeAddress(s);
  if (!ip) throw exhausted(n, s);
  return ip;
}

/** The first free address of `s`, given to the port. */
export async function takeFirstFree(tx: StoreTx, n: NetworkRow, s: SubnetRow, portId: number): Promise<string> {
  const ip = await tx.takeFirstFree(s, portId);
  if (!ip) throw exhausted(n, s);
  return ip;
}

/** The first subnet of each IP version, in id order. */
export function firstSubnetPerFamily(subnets: readonly SubnetRow[]): SubnetRow[] {
  const seen = new Set<number>();
  return subnets.filter((s) => !seen.has(s.ip_version) && seen.add(s.ip_version));
}

/** The public network's floating-IP family: IPv4 when it has an IPv4 subnet. */
export function floatingFamily(subnets: readonly SubnetRow[]): number {
  return subnets.some((s) => s.ip_version === 4) ? 4 : 6;
}

const otherFamily = (family: number): number => (family === 4 ? 6 : 4);

/** A public port's addresses; see the file comment for the rules. */
export async function publicAddresses(tx: StoreTx, cfg: ControllerConfig, owner: PortOwner, n: NetworkRow, portId: number, requested: PortSpec['fixedIps']): Promise<FixedIpRow[]> {
  const subnets = await tx.subnetsOf(n.id);
  const family = floatingFamily(subnets);
  const wants = requested.length
    ? requested.map((want, i) => ({ want, field: `fixed_ips[${i}]`, s: requestedSubnet(subnets, n, want, `fixed_ips[${i}]`) }))
    : firstSubnetPerFamily(subnets).map((s) => ({ want: {} as Want, field: 'fixed_ips', s }));
  const floating = wants.filter((w) => w.s.ip_version === family);
  const riders = wants.filter((w) => w.s.ip_version !== family);
  if (floating.length === 0) {
    if (wants.length === 0) throw new PoolExhaustedError(`network ${n.id} has no subnet`);
    throw new BadRequestError((riders[0] as { field: string }).field, `a public IPv${otherFamily(family)} address comes only with an IPv${family} floating IP on the same port; ask for both`);
  }
  if (riders.length > 1) throw new BadRequestError((riders[1] as { field: string }).field, `a port holds at most one public IPv${otherFamily(family)} address`);
  const out: FixedIpRow[] = [];
  const take = async (s: SubnetRow, ip: string): Promise<void> => {
    if (out.some((o) => o.ip === ip) || (await tx.fixedIpInUse(s.id, ip))) throw new IpAddressInUseError(ip);
    await tx.insertFixedIp(portId, s.id, ip);
    out.push({ port_id: portId, subnet_id: s.id, ip });
  };
  // a floating IP taken with the port counts against the owner's quota, whoever asks (the
  // operator too: quotas belong to projects, not to callers)
  const withinQuota = async (): Promise<void> => {
    const count = await tx.countFloatingIps(owner.project);
    if (count >= cfg.quotas.floatingIps) throw new OverQuotaError('Floating IP address', cfg.quotas.floatingIps - count);
  };
  for (const { want, s } of floating) {
    if (want.ip_address === undefined) {
      // taken now: a floating IP of the project, released with the port
      await withinQuota();
      const ip = await firstFree(tx, n, s);
      await take(s, ip);
      await tx.insertFloatingIp({ project: owner.project, networkId: n.id, subnetId: s.id, ip, at: now(), withPort: portId });
      continue;
    }
    const ip = want.ip_address;
    const fip = await tx.floatingIpAt(s.id, ip);
    if (fip && (fip.project !== owner.project || fip.port_id !== null)) throw new IpAddressInUseError(ip);
    if (!fip && !owner.admin) throw new ForbiddenError(`Reserve ${ip} as a floating IP first (ip create) to use it`);
    // the operator may place any free address; it is still a floating IP of the project
    if (!fip) await withinQuota();
    await take(s, ip);
    if (fip) await tx.setFloatingIpPort(fip.id, portId);
    else await tx.insertFloatingIp({ project: owner.project, networkId: n.id, subnetId: s.id, ip, at: now(), withPort: portId });
  }
  for (const { want, s } of riders) {
    const ip = want.ip_address ?? (await firstFree(tx, n, s));
    if (await tx.floatingIpAt(s.id, ip)) throw new IpAddressInUseError(ip);
    await take(s, ip);
  }
  return out;
}
