// Subnets: created with a network (kamaki style) or on their own (Neutron), immutable, deleted
// only when no fixed or floating address uses them. The IPAM rules (ipam-rules.ts) are checked
// here for errors that name the field, and again by the store as its last line of defence.
import type { Principal } from '../auth.js';
import type { CreateSubnetRequest } from '../api/subnet-requests.js';
import { BadRequestError, ConflictError, ForbiddenError } from '../errors.js';
import { defaultPools, type Pool } from '../ipam.js';
import { cidrProblem, cidrsOverlap, gatewayProblem, hostRoutesProblem, poolsProblem, type FieldProblem, type HostRoute } from '../ipam-rules.js';
import type { NetworkRow } from '../rows.js';
import { subnetView } from '../rows.js';
import type { Body, ServiceCore } from '../service-core.js';
import type { StoreReader, StoreTx } from '../store.js';
import { normalizeAddress, parseCidr } from '../../util/ip.js';

export interface SubnetSpec {
  cidr: string;
  name: string;
  ipVersion?: 4 | 6;
  /** null: no gateway */
  gateway: string | null;
  /** undefined: the whole subnet but network, broadcast and gateway */
  pools?: Pool[];
  dns: string[];
  routes: HostRoute[];
  enableDhcp: boolean;
}

const refuse = (p: FieldProblem | undefined): void => {
  if (p) throw new BadRequestError(p.field, p.reason);
};

/** The first host address of a CIDR (Neutron's default gateway); insertSubnet checks the CIDR first. */
function firstHost(cidr: string): string {
  return defaultPools(cidr, undefined)[0]?.start as string;
}

/** Inserts a subnet of `n` after checking every IPAM rule against its neighbours. */
export async function insertSubnet(tx: StoreTx, project: string | null, n: NetworkRow, spec: SubnetSpec): Promise<number> {
  refuse(cidrProblem('cidr', spec.cidr));
  const cidr = spec.cidr;
  const family = parseCidr(cidr).family;
  if (spec.ipVersion !== undefined && spec.ipVersion !== family) throw new BadRequestError('ip_version', `${spec.ipVersion} does not match the IPv${family} cidr ${cidr}`);
  if (n.public === 0) {
    const taken = await tx.privateCidrOwner(cidr);
    // another project's network is neither named nor counted: only that the CIDR is taken
    if (taken !== undefined) {
      const own = (await tx.network(taken))?.project === project;
      throw new ConflictError(own ? `CIDR ${cidr} is already in use by network ${taken}` : `CIDR ${cidr} is already in use by another project`);
    }
  }
  // no two subnets of a network overlap, nor any two of the routed public networks (their
  // addresses are routed to hosts by /32 and /128 from one table per uplink)
  const neighbours = n.public === 1 ? (await tx.subnets()).filter((s) => s.project === null) : await tx.subnetsOf(n.id);
  const clash = neighbours.find((s) => cidrsOverlap(s.cidr, cidr));
  if (clash) throw new BadRequestError('cidr', `${cidr} overlaps ${clash.cidr} (subnet ${clash.id} of network ${clash.network_id})`);
  const gateway = spec.gateway === null ? null : normalizeAddress(spec.gateway);
  if (gateway !== null) refuse(gatewayProblem(cidr, gateway));
  const pools = spec.pools?.length ? spec.pools.map((x) => ({ start: normalizeAddress(x.start), end: normalizeAddress(x.end) })) : defaultPools(cidr, gateway ?? undefined);
  refuse(poolsProblem(cidr, pools, gateway));
  const routes = spec.routes.map((r) => ({ destination: r.destination, nexthop: normalizeAddress(r.nexthop) }));
  refuse(hostRoutesProblem(cidr, routes));
  const dns = spec.dns.map(normalizeAddress);
  const twice = dns.findIndex((d, i) => dns.indexOf(d) !== i);
  if (twice >= 0) throw new BadRequestError(`dns_nameservers[${twice}]`, `${dns[twice]} is listed twice`);
  return tx.insertSubnet({ networkId: n.id, project, name: spec.name, cidr, ipVersion: family, gateway, pools: JSON.stringify(pools), dns: JSON.stringify(dns), enableDhcp: spec.enableDhcp, hostRoutes: JSON.stringify(routes) });
}

export class Subnets {
  constructor(private readonly core: ServiceCore) {}

  list(p: Principal): Promise<Body[]> {
    return this.core.store.read(async (r) => {
      const nets = new Set((await r.networks(p.admin ? undefined : p.project)).map((n) => n.id));
      return (await r.subnets()).filter((s) => nets.has(s.network_id)).map(subnetView);
    });
  }

  private async view(r: StoreReader, p: Principal, id: string): Promise<Body> {
    return subnetView((await this.core.subnet(r, p, id)).s);
  }

  get(p: Principal, id: string): Promise<Body> {
    return this.core.store.read((r) => this.view(r, p, id));
  }

  create(p: Principal, req: CreateSubnetRequest): Promise<Body> {
    return this.core.mutate(async (tx, changes) => {
      const n = await this.core.network(tx, p, req.network_id);
      if (n.public === 1 && !p.admin) throw new ForbiddenError('Only administrators change public networks');
      const id = await insertSubnet(tx, n.public === 1 ? null : p.project, n, {
        cidr: req.cidr,
        name: req.name ?? '',
        ...(req.ip_version === undefined ? {} : { ipVersion: req.ip_version }),
        // Neutron: no gateway_ip means the first address; null means none
        gateway: req.gateway_ip === undefined ? firstHost(req.cidr) : req.gateway_ip,
        ...(req.allocation_pools ? { pools: req.allocation_pools } : {}),
        dns: req.dns_nameservers ?? [],
        routes: req.host_routes ?? [],
        enableDhcp: req.enable_dhcp ?? true,
      });
      for (const h of await tx.hostsOfNetwork(n.id)) changes.network(h, n.id);
      return this.view(tx, p, String(id));
    });
  }

  /** Subnets are immutable: the refusal names the first attribute asked for. */
  async update(p: Principal, id: string, body: Record<string, unknown>): Promise<Body> {
    await this.get(p, id);
    if (body.cidr !== undefined) throw new BadRequestError('cidr', "a subnet's CIDR cannot be changed once created");
    throw new BadRequestError(Object.keys(body)[0] ?? 'subnet', 'subnets are immutable in this version');
  }

  async delete(p: Principal, id: string): Promise<void> {
    await this.core.mutate(async (tx, changes) => {
      const { s, n } = await this.core.subnet(tx, p, id);
      if (n.public === 1) throw new ForbiddenError(`Subnet ${id} of the public network ${n.name} comes from the controller configuration; remove it there`);
      if ((await tx.countFixedIpsOfSubnet(s.id)) > 0) throw new ConflictError(`Subnet ${id} has allocated addresses`);
      const floating = await tx.countFloatingIpsOfSubnet(s.id);
      if (floating > 0) throw new ConflictError(`Subnet ${id} has ${floating} floating IP(s) allocated`);
      await tx.deleteSubnet(s.id);
      for (const h of await tx.hostsOfNetwork(n.id)) changes.network(h, n.id);
    });
  }
}
