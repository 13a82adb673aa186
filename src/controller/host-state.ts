// The desired state of one host, computed from the store: the networks that have ports bound to
// it, those ports, and for VXLAN the other hosts' VTEPs. The document the agent validates.
// Pure builders per object (meta, network, port) over rows, and two readers over the store
// interface: the whole document (start, reconnect, resync) and the objects one change touched
// (every API write), so a change costs O(what changed), not O(ports on the host).
import type { ControllerConfig } from './config.js';
import type { HostMetaDoc, HostObjects, NetworkDoc, PortDoc } from '../state/controller-hooks.js';
import type { FixedIpRow, HostRow, NetworkRow, PortRow, SubnetRow } from './rows.js';
import type { StoreReader } from './store.js';
import { portPlug, type BindingProfileDoc } from './port-plug.js';
import type { HostStateInput } from '../state/schema.js';

export function metaDoc(cfg: ControllerConfig, hostId: string, host: HostRow | undefined): HostMetaDoc {
  const d = cfg.hosts.defaults;
  return {
    schemaVersion: 1,
    generation: host?.generation ?? 0,
    host: {
      name: hostId,
      underlay: { ...(d.underlayDevice ? { device: d.underlayDevice } : {}), ...(host?.underlay ? { address: host.underlay } : {}) },
      macFiltered: { bridge: d.macFiltered.bridge, ...(d.macFiltered.uplink ? { uplink: d.macFiltered.uplink } : {}) },
      ...(d.tapOwner !== undefined ? { tapOwner: d.tapOwner } : {}),
    },
  };
}

/** `remotes`: the VTEPs of the other hosts on the network (used for VXLAN only). */
export function networkDoc(cfg: ControllerConfig, n: NetworkRow, subnetRows: SubnetRow[], remotes: string[]): NetworkDoc {
  const subnets = subnetRows.map((s) => ({
    cidr: s.cidr,
    ...(s.gateway ? { gateway: s.gateway } : {}),
    dns: JSON.parse(s.dns) as string[],
    dhcp: s.enable_dhcp === 1,
    routes: JSON.parse(s.host_routes) as { destination: string; nexthop: string }[],
  }));
  const common = { id: String(n.id), subnets };
  switch (n.type) {
    case 'IP_LESS_ROUTED':
      return { ...common, type: 'IP_LESS_ROUTED', uplink: n.uplink ?? 'eth1', routingTable: n.routing_table ?? 100 };
    case 'VXLAN':
      return { ...common, type: 'VXLAN', segmentId: n.segment ?? 0, remotes: [...remotes].sort() };
    case 'PHYSICAL_VLAN':
      return { ...common, type: 'PHYSICAL_VLAN', segmentId: n.segment ?? 0, uplink: cfg.hosts.defaults.vlanTrunk ?? 'eth1' };
    default:
      return { ...common, type: 'MAC_FILTERED', macPrefix: n.mac_prefix ?? cfg.macPrefix };
  }
}

/** `hostId`: the host the document is for; the destination of a live migration gets the port standing by. */
export function portDoc(cfg: ControllerConfig, p: PortRow, ips: readonly FixedIpRow[], hostId: string): PortDoc {
  const profile = JSON.parse(p.profile) as BindingProfileDoc;
  const { veth, netns } = portPlug(cfg, p.project, p.device_id, profile);
  return {
    id: String(p.id),
    network: String(p.network_id),
    mac: p.mac,
    addresses: ips.map((f) => f.ip),
    firewallProfile: p.firewall_profile as 'DISABLED' | 'ENABLED' | 'PROTECTED',
    revision: p.revision,
    ...(p.device_id ? { hostname: p.device_id.slice(0, 63) } : {}),
    ...(profile.ifname ? { ifname: profile.ifname } : {}),
    ...(veth && netns ? { kind: 'veth' as const, veth: { netns, peerName: profile.peer_name ?? `eth${p.nic_index ?? 0}` } } : { kind: 'tap' as const }),
    ...(!veth && profile.adopt ? { tap: { adopt: true } } : {}),
    // the destination of a live migration, and the new host of a switch the old one has not applied yet
    ...((p.migrating_to === hostId && p.host !== hostId) || (p.host === hostId && p.activating_from !== null) ? { standby: true } : {}),
  };
}

async function networkDocOf(r: StoreReader, cfg: ControllerConfig, hostId: string, n: NetworkRow): Promise<NetworkDoc> {
  const remotes = n.type === 'VXLAN' ? await r.vteps(n.id, hostId) : [];
  return networkDoc(cfg, n, await r.subnetsOf(n.id), remotes);
}

/** The whole desired state of a host. */
export async function hostState(r: StoreReader, cfg: ControllerConfig, hostId: string): Promise<HostStateInput> {
  const host = await r.host(hostId);
  const ports = await r.hostPorts(hostId);
  const ips = await r.fixedIpsOfHost(hostId);
  const networks: NetworkDoc[] = [];
  for (const id of [...new Set(ports.map((p) => p.network_id))]) {
    const n = await r.network(id);
    if (n) networks.push(await networkDocOf(r, cfg, hostId, n));
  }
  return { ...metaDoc(cfg, hostId, host), networks, ports: ports.map((p) => portDoc(cfg, p, ips.get(p.id) ?? [], hostId)) } as HostStateInput;
}

/** The meta and the named objects of a host's desired state (undefined: the object is not on the host). */
export async function hostObjects(r: StoreReader, cfg: ControllerConfig, hostId: string, ids: { ports: readonly string[]; networks: readonly string[] }): Promise<HostObjects> {
  const out: HostObjects = { meta: metaDoc(cfg, hostId, await r.host(hostId)), networks: new Map(), ports: new Map() };
  const rows = new Map<number, PortRow>();
  for (const id of ids.ports) {
    const row = /^\d+$/.test(id) ? await r.port(Number(id)) : undefined;
    if (row && (row.host === hostId || row.migrating_to === hostId)) rows.set(row.id, row);
    else out.ports.set(id, undefined);
  }
  const ips = await r.fixedIpsOf([...rows.keys()]);
  for (const row of rows.values()) out.ports.set(String(row.id), portDoc(cfg, row, ips.get(row.id) ?? [], hostId));
  for (const id of ids.networks) {
    const n = /^\d+$/.test(id) ? await r.network(Number(id)) : undefined;
    out.networks.set(id, n && (await r.hostHasPortOn(hostId, n.id)) ? await networkDocOf(r, cfg, hostId, n) : undefined);
  }
  return out;
}
