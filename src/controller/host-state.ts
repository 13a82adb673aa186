// The desired state of one host, computed from the store: the networks that have ports bound to
// it, those ports, and for VXLAN the other hosts' VTEPs. The document the agent validates.
// Computed on every change of the host (the publisher then writes only the keys that differ),
// so it is a handful of set-based queries over cached statements, never one query per port.
import type { Statement } from 'better-sqlite3';
import type { HostStateInput } from '../state/schema.js';
import type { ControllerConfig } from './config.js';
import type { Db } from './db.js';
import type { Pool } from './ipam.js';
import type { HostRow, NetworkRow, PortRow, SubnetRow } from './rows.js';

interface Statements {
  host: Statement<[string]>;
  ports: Statement<[string]>;
  ips: Statement<[string]>;
  network: Statement<[number]>;
  subnets: Statement<[number]>;
  remotes: Statement<[number, string]>;
}

const cache = new WeakMap<Db, Statements>();

function statements(db: Db): Statements {
  let s = cache.get(db);
  if (!s) {
    s = {
      host: db.prepare('SELECT * FROM hosts WHERE id = ?'),
      ports: db.prepare('SELECT * FROM ports WHERE host = ? ORDER BY id'),
      ips: db.prepare('SELECT f.port_id, f.ip FROM fixed_ips f JOIN ports p ON p.id = f.port_id WHERE p.host = ? ORDER BY f.rowid'),
      network: db.prepare('SELECT * FROM networks WHERE id = ?'),
      subnets: db.prepare('SELECT * FROM subnets WHERE network_id = ? ORDER BY id'),
      remotes: db.prepare('SELECT DISTINCT h.underlay u FROM ports p JOIN hosts h ON h.id = p.host WHERE p.network_id = ? AND p.host != ? AND h.underlay IS NOT NULL'),
    };
    cache.set(db, s);
  }
  return s;
}

export function hostState(db: Db, cfg: ControllerConfig, hostId: string): HostStateInput {
  const q = statements(db);
  const host = q.host.get(hostId) as HostRow | undefined;
  const ports = q.ports.all(hostId) as PortRow[];
  const ipsByPort = new Map<number, string[]>();
  for (const r of q.ips.all(hostId) as { port_id: number; ip: string }[]) {
    const l = ipsByPort.get(r.port_id);
    if (l) l.push(r.ip);
    else ipsByPort.set(r.port_id, [r.ip]);
  }
  const netIds = [...new Set(ports.map((p) => p.network_id))];
  const d = cfg.hosts.defaults;
  const networks = netIds.map((id) => {
    const n = q.network.get(id) as NetworkRow;
    const subnets = (q.subnets.all(id) as SubnetRow[]).map((s) => ({
      cidr: s.cidr,
      ...(s.gateway ? { gateway: s.gateway } : {}),
      dns: JSON.parse(s.dns) as string[],
      dhcp: s.enable_dhcp === 1,
      routes: JSON.parse(s.host_routes) as { destination: string; nexthop: string }[],
    }));
    const common = { id: String(n.id), subnets };
    switch (n.type) {
      case 'IP_LESS_ROUTED':
        return { ...common, type: 'IP_LESS_ROUTED' as const, uplink: n.uplink ?? 'eth1', routingTable: n.routing_table ?? 100 };
      case 'VXLAN': {
        const remotes = (q.remotes.all(id, hostId) as { u: string }[]).map((r) => r.u);
        return { ...common, type: 'VXLAN' as const, segmentId: n.segment ?? 0, remotes: remotes.sort() };
      }
      case 'PHYSICAL_VLAN':
        return { ...common, type: 'PHYSICAL_VLAN' as const, segmentId: n.segment ?? 0, uplink: d.vlanTrunk ?? 'eth1' };
      default:
        return { ...common, type: 'MAC_FILTERED' as const, macPrefix: n.mac_prefix ?? cfg.macPrefix };
    }
  });
  const binding = cfg.portBinding;
  const portDocs = ports.map((p) => {
    const ips = ipsByPort.get(p.id) ?? [];
    const profile = JSON.parse(p.profile) as { kind?: string; netns?: string; peer_name?: string };
    const veth = profile.kind === 'veth' || (profile.kind === undefined && binding.kind === 'veth');
    const netns = profile.netns ?? (binding.kind === 'veth' ? binding.netnsTemplate.replace('{device_id}', p.device_id) : undefined);
    return {
      id: String(p.id),
      network: String(p.network_id),
      mac: p.mac,
      addresses: ips,
      firewallProfile: p.firewall_profile as 'DISABLED' | 'ENABLED' | 'PROTECTED',
      revision: p.revision,
      ...(p.device_id ? { hostname: p.device_id.slice(0, 63) } : {}),
      ...(veth && netns ? { kind: 'veth' as const, veth: { netns, peerName: profile.peer_name ?? `eth${p.nic_index ?? 0}` } } : { kind: 'tap' as const }),
    };
  });
  return {
    schemaVersion: 1,
    generation: host?.generation ?? 0,
    host: {
      name: hostId,
      underlay: { ...(d.underlayDevice ? { device: d.underlayDevice } : {}), ...(host?.underlay ? { address: host.underlay } : {}) },
      macFiltered: { bridge: d.macFiltered.bridge, ...(d.macFiltered.uplink ? { uplink: d.macFiltered.uplink } : {}) },
      ...(d.tapOwner !== undefined ? { tapOwner: d.tapOwner } : {}),
    },
    networks,
    ports: portDocs,
  } as HostStateInput;
}

export type { Pool };
