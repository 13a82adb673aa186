// Networks: the public ones come from the config (recreated, with their subnets, at every
// start); private ones are created per project with their first subnet (kamaki style: the next
// free /24 when no CIDR is given) and a segment (VNI, VLAN id) or MAC prefix from the pools.
import type { Principal } from '../auth.js';
import type { CreateNetworkRequest } from '../api/network-requests.js';
import { BadRequestError, ForbiddenError, NetworkInUseError, NotFoundError, OverQuotaError, PoolExhaustedError } from '../errors.js';
import { nthSubnet24 } from '../ipam.js';
import { cidrsOverlap } from '../ipam-rules.js';
import { now, type Body, type ServiceCore } from '../service-core.js';
import type { StoreTx } from '../store.js';
import { parseCidr } from '../../util/ip.js';
import { insertSubnet } from './subnets.js';

export const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export class Networks {
  constructor(private readonly core: ServiceCore) {}

  /** The config's public networks and each of their subnets, created where missing. */
  async ensurePublic(): Promise<void> {
    for (const pub of this.core.cfg.publicNetworks) {
      await this.core.store.write(async (tx) => {
        let n = await tx.publicNetworkByName(pub.name);
        if (!n) {
          const id = await tx.insertNetwork({ name: pub.name, project: null, type: 'IP_LESS_ROUTED', public: true, segment: null, uplink: pub.uplink, routingTable: pub.routingTable, at: now() });
          n = await tx.network(id);
          if (!n) throw new NotFoundError('Network', String(id));
        }
        const have = new Set((await tx.subnetsOf(n.id)).map((s) => s.cidr));
        for (const s of pub.subnets) {
          if (have.has(s.cidr)) continue;
          const family = parseCidr(s.cidr).family;
          await insertSubnet(tx, null, n, { cidr: s.cidr, name: `${pub.name}-v${family}`, gateway: s.gateway ?? null, ...(s.allocationPools.length ? { pools: s.allocationPools } : {}), dns: s.dns, routes: [], enableDhcp: true });
        }
      });
    }
  }

  list(p: Principal): Promise<Body[]> {
    return this.core.store.read(async (r) => {
      const rows = await r.networks(p.admin ? undefined : p.project);
      return Promise.all(rows.map((n) => this.core.networkBody(r, n)));
    });
  }

  get(p: Principal, id: string): Promise<Body> {
    return this.core.store.read(async (r) => this.core.networkBody(r, await this.core.network(r, p, id)));
  }

  create(p: Principal, req: CreateNetworkRequest): Promise<Body> {
    const cfg = this.core.cfg.privateNetworks;
    if (req.external) {
      if (!p.admin) throw new ForbiddenError('Only administrators create public networks (they come from the controller configuration)');
      throw new BadRequestError('router:external', 'public networks come from the controller configuration (publicNetworks), not from the API');
    }
    const type = req.type ?? cfg.defaultType;
    if (!(cfg.enabledTypes as string[]).includes(type)) throw new BadRequestError('type', `'${type}' is not enabled here (enabled: ${cfg.enabledTypes.join(', ')})`);
    return this.core.mutate(async (tx) => {
      const count = await tx.countPrivateNetworks(p.project);
      if (count >= this.core.cfg.quotas.networks) throw new OverQuotaError('Private Network', this.core.cfg.quotas.networks - count);
      const segment = type === 'VXLAN' ? await this.freeSegment(tx, 'VXLAN', cfg.vniRange) : type === 'PHYSICAL_VLAN' ? await this.freeSegment(tx, 'PHYSICAL_VLAN', cfg.vlanRange) : null;
      const id = await tx.insertNetwork({
        name: req.name,
        project: p.project,
        type,
        public: false,
        segment,
        uplink: null,
        routingTable: null,
        ...(type === 'MAC_FILTERED' ? { macPrefix: await this.freeMacPrefix(tx) } : {}),
        at: now(),
      });
      const n = await tx.network(id);
      if (!n) throw new NotFoundError('Network', String(id));
      // like the seeds: a private network without a CIDR gets the next free /24 of the range,
      // and (kamaki's networks) no gateway
      const cidr = req.cidr ?? (await this.freePrivateCidr(tx));
      await insertSubnet(tx, p.project, n, { cidr, name: `${req.name || id}-subnet`, gateway: null, dns: [], routes: [], enableDhcp: true });
      return this.core.networkBody(tx, n);
    });
  }

  async delete(p: Principal, id: string): Promise<void> {
    await this.core.mutate(async (tx) => {
      const n = await this.core.network(tx, p, id);
      if (n.public === 1) throw new NetworkInUseError(id, 'FORBIDDEN forbidden (Can not delete the public network.)');
      if (!p.admin && n.project !== p.project) throw new NotFoundError('Network', id);
      if ((await tx.countPortsOfNetwork(n.id)) > 0) throw new NetworkInUseError(id);
      await tx.deleteNetwork(n.id);
    });
  }

  private async freeSegment(tx: StoreTx, type: string, [lo, hi]: [number, number]): Promise<number> {
    const used = new Set(await tx.usedSegments(type));
    for (let s = lo; s <= hi; s++) if (!used.has(s)) return s;
    throw new PoolExhaustedError(`No free ${type === 'VXLAN' ? 'VNI' : 'VLAN id'} in ${lo}-${hi}`);
  }

  /**
   * A MAC_FILTERED network's prefix: <pool>:xx:xx, the lowest one free, so that a deleted
   * network's prefix is reused and the 65,537th network is a typed refusal, not a constraint.
   */
  private async freeMacPrefix(tx: StoreTx): Promise<string> {
    const pool = this.core.cfg.privateNetworks.macPrefixPool;
    const used = new Set(await tx.usedMacPrefixes());
    // 0 is skipped: <pool>:00:00 would be the first port's MAC prefix of every default network
    for (let i = 1; i <= 0xffff; i++) {
      const prefix = `${pool}:${HEX[i >> 8]}:${HEX[i & 0xff]}`;
      if (!used.has(prefix)) return prefix;
    }
    throw new PoolExhaustedError(`No free MAC prefix under ${pool} (all 65,535 are held by MAC_FILTERED networks)`);
  }

  /** The first /24 of the range that overlaps no private subnet. */
  private async freePrivateCidr(tx: StoreTx): Promise<string> {
    const range = this.core.cfg.privateNetworks.cidrRange;
    const used = (await tx.privateCidrs()).filter((c) => cidrsOverlap(c, range));
    // the /24s of the range are found by name; only other prefixes need the overlap test
    const exact = new Set(used);
    const others = used.filter((c) => !c.endsWith('/24'));
    for (let i = 1; ; i++) {
      const c = nthSubnet24(range, i);
      if (!c) throw new PoolExhaustedError(`No free /24 left in ${range}`);
      if (!exact.has(c) && !others.some((u) => cidrsOverlap(u, c))) return c;
    }
  }
}
