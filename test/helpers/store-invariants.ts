// The controller store's invariants, read back through the store interface after a request:
// no overlapping subnets (per network, and among the public ones), pools and gateways valid,
// every address in a live subnet of its port's network and inside it, no public port without
// its address, quotas held, device counts exact.
import type { ControllerConfig } from '../../src/controller/config.js';
import { cidrsOverlap, gatewayProblem, poolsProblem } from '../../src/controller/ipam-rules.js';
import type { Pool } from '../../src/controller/ipam.js';
import type { ControllerStore } from '../../src/controller/store.js';
import { cidrContains } from '../../src/util/ip.js';

export async function storeProblems(store: ControllerStore, cfg: ControllerConfig, projects: string[]): Promise<string[]> {
  return store.read(async (r) => {
    const out: string[] = [];
    const subnets = await r.subnets();
    const byId = new Map(subnets.map((s) => [s.id, s]));
    for (const [i, a] of subnets.entries()) {
      for (const b of subnets.slice(i + 1)) {
        const neighbours = a.network_id === b.network_id || (a.project === null && b.project === null);
        if (neighbours && cidrsOverlap(a.cidr, b.cidr)) out.push(`subnets ${a.id} (${a.cidr}) and ${b.id} (${b.cidr}) overlap`);
      }
      const pools = JSON.parse(a.pools) as Pool[];
      const bad = poolsProblem(a.cidr, pools, a.gateway) ?? (a.gateway ? gatewayProblem(a.cidr, a.gateway) : undefined);
      if (bad) out.push(`subnet ${a.id}: ${bad.field} ${bad.reason}`);
    }
    const networks = await r.networks(undefined);
    const publicNets = new Set(networks.filter((n) => n.public === 1).map((n) => n.id));
    const ports = await r.ports(undefined);
    // the device count each network keeps: its distinct devices (a device is a project's)
    for (const n of networks) {
      const devices = new Set(ports.filter((p) => p.network_id === n.id && p.device_id).map((p) => `${p.project ?? ''} ${p.device_id}`)).size;
      if (n.devices !== devices) out.push(`network ${n.id} counts ${n.devices} devices and has ${devices}`);
      if (n.public === 0 && devices > cfg.quotas.devicesPerNetwork) out.push(`network ${n.id}: ${devices} devices over the limit of ${cfg.quotas.devicesPerNetwork}`);
    }
    const ips = await r.fixedIpsOf(ports.map((p) => p.id));
    for (const p of ports) {
      const mine = ips.get(p.id) ?? [];
      // a port of a private network may have no address (its network had no subnet when it was
      // made: an L2-only port); on a public network an address is all a port is
      if (publicNets.has(p.network_id) && mine.length === 0) out.push(`port ${p.id} of the public network ${p.network_id} has no address`);
      const seen = new Set<string>();
      for (const f of mine) {
        if (seen.has(`${f.subnet_id} ${f.ip}`)) out.push(`port ${p.id} holds ${f.ip} twice`);
        seen.add(`${f.subnet_id} ${f.ip}`);
      }
      for (const f of mine) {
        const s = byId.get(f.subnet_id);
        if (!s) out.push(`port ${p.id}: address ${f.ip} in subnet ${f.subnet_id}, which does not exist`);
        else if (s.network_id !== p.network_id) out.push(`port ${p.id}: address ${f.ip} in subnet ${s.id} of another network`);
        else if (!cidrContains(s.cidr, f.ip)) out.push(`port ${p.id}: address ${f.ip} outside ${s.cidr}`);
      }
    }
    for (const f of await r.floatingIps(undefined)) {
      if (!byId.has(f.subnet_id)) out.push(`floating IP ${f.id} (${f.ip}) in subnet ${f.subnet_id}, which does not exist`);
      if (f.port_id !== null && !(ips.get(f.port_id) ?? []).some((x) => x.ip === f.ip)) out.push(`floating IP ${f.id} attached to port ${f.port_id}, which does not carry ${f.ip}`);
    }
    for (const project of projects) {
      const nets = await r.countPrivateNetworks(project);
      if (nets > cfg.quotas.networks) out.push(`project ${project}: ${nets} networks over the quota of ${cfg.quotas.networks}`);
      const fips = await r.countFloatingIps(project);
      if (fips > cfg.quotas.floatingIps) out.push(`project ${project}: ${fips} floating IPs over the quota of ${cfg.quotas.floatingIps}`);
    }
    return out;
  });
}
