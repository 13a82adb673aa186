// Desired state (networks, ports) -> desired kernel objects. Pure: the only inputs besides the
// state are the observed links (to size VXLAN MTUs and check uplinks exist) and a resolver for
// user/group names, both passed in.
import type { Link } from '../kernel/types.js';
import type { HostState, Network, Port, RoutedNetwork, VxlanNetwork } from '../state/schema.js';
import { bridgeName, hostSideMac, portIfname, vlanName, vxlanName, MAC_FILTERED_VXLAN_NAME } from '../state/names.js';
import { family, hostPrefix, parseCidr } from '../util/ip.js';
import type { DesiredKernel, DesiredLink, ModelProblem } from './model.js';
import type { Owner } from './ownership.js';

/** Resolves a user/group name or number to a numeric id; undefined when unknown. */
export interface IdResolver {
  uid(owner: string | number): number | undefined;
  gid(group: string | number): number | undefined;
}

export const MAIN_TABLE = 254;
const ALL_ZERO_MAC = '00:00:00:00:00:00';

/** VXLAN encapsulation overhead: outer Ethernet 14 + IP (20 | 40) + UDP 8 + VXLAN 8. */
export function vxlanOverhead(localAddress: string): number {
  return family(localAddress) === 4 ? 50 : 70;
}

export function buildDesiredKernel(state: HostState, observedLinks: readonly Link[], ids: IdResolver): DesiredKernel {
  const out: DesiredKernel = { links: [], enslavements: [], routes: [], rules: [], neighs: [], fdb: [], sysctls: [], proxyScopes: [], problems: [], pending: [] };
  const byName = new Map(observedLinks.map((l) => [l.name, l]));
  const { host } = state;
  const netOwner = (n: Network): Owner => ({ kind: 'network', id: n.id });
  const problem = (owner: Owner, reason: string): void => void out.problems.push({ owner, reason });

  // Effective MTU per network (VXLAN must fit inside its underlay).
  const mtuOf = new Map<string, number>();
  const unusable = new Set<string>(); // networks whose objects cannot be built this pass

  for (const net of state.networks) {
    mtuOf.set(net.id, net.mtu);
    switch (net.type) {
      case 'PHYSICAL_VLAN': {
        if (!byName.has(net.uplink)) {
          problem(netOwner(net), `uplink device '${net.uplink}' does not exist`);
          unusable.add(net.id);
          break;
        }
        const br = bridgeName(net, host);
        out.links.push({ kind: 'bridge', name: br, owner: netOwner(net), mtu: net.mtu, master: undefined });
        out.links.push({ kind: 'vlan', name: vlanName(net.uplink, net.segmentId), owner: netOwner(net), mtu: net.mtu, master: br, parent: net.uplink, vid: net.segmentId });
        break;
      }
      case 'VXLAN': {
        const built = vxlanLinks(net, state, byName, problem);
        if (!built) {
          unusable.add(net.id);
          break;
        }
        mtuOf.set(net.id, built.mtu);
        out.links.push(...built.links);
        out.fdb.push(...net.remotes.map((dst) => ({ dev: vxlanName(net.id), mac: ALL_ZERO_MAC, dst, owner: netOwner(net) })));
        break;
      }
      case 'IP_LESS_ROUTED':
        if (!byName.has(net.uplink)) {
          problem(netOwner(net), `uplink device '${net.uplink}' does not exist`);
          unusable.add(net.id);
          break;
        }
        routedNetworkObjects(net, out, byName.get(net.uplink)?.carrier ?? false);
        break;
      case 'CUSTOM':
        if (byName.get(net.bridge)?.kind !== 'bridge') {
          problem(netOwner(net), `bridge '${net.bridge}' does not exist`);
          unusable.add(net.id);
        }
        break;
      case 'MAC_FILTERED':
        break;
    }
  }

  if (state.networks.some((n) => n.type === 'MAC_FILTERED')) macFilteredObjects(state, byName, out);

  const netById = new Map(state.networks.map((n) => [n.id, n]));
  for (const port of state.ports) {
    const net = netById.get(port.network);
    if (!net || unusable.has(net.id)) {
      if (net) problem({ kind: 'port', id: port.id }, `network '${net.id}' cannot be set up on this host`);
      continue;
    }
    const link = portLink(port, net, state, mtuOf.get(net.id) ?? net.mtu, ids, problem);
    if (!link) continue;
    if (link.kind === 'tap' && link.adopt && byName.get(link.name) === undefined) {
      // nothing to build on a device that is not there; its appearance triggers the next pass
      out.pending.push({ owner: link.owner, reason: `waiting for the VM manager to create tap '${link.name}'` });
      continue;
    }
    out.links.push(link);
    // standing by for a live migration: plugged, but no route or proxy entry before the switch
    if (net.type === 'IP_LESS_ROUTED' && !port.standby) {
      routedPortObjects(port, link.name, net, out, { port: byName.get(link.name)?.carrier ?? false, uplink: byName.get(net.uplink)?.carrier ?? false });
    }
  }
  return out;
}

function vxlanLinks(
  net: VxlanNetwork,
  state: HostState,
  byName: Map<string, Link>,
  problem: (o: Owner, r: string) => void,
): { links: DesiredLink[]; mtu: number } | undefined {
  const owner: Owner = { kind: 'network', id: net.id };
  const local = net.localAddress ?? state.host.underlay.address;
  const underlay = net.uplink ?? state.host.underlay.device;
  if (!local || !underlay) {
    problem(owner, 'no local VTEP address or underlay device');
    return undefined;
  }
  const dev = byName.get(underlay);
  if (!dev) {
    problem(owner, `underlay device '${underlay}' does not exist`);
    return undefined;
  }
  const mtu = Math.min(net.mtu, dev.mtu - vxlanOverhead(local));
  const br = bridgeName(net, state.host);
  return {
    mtu,
    links: [
      { kind: 'bridge', name: br, owner, mtu, master: undefined },
      { kind: 'vxlan', name: vxlanName(net.id), owner, mtu, master: br, vni: net.segmentId, local, underlay, port: net.port },
    ],
  };
}

function macFilteredObjects(state: HostState, byName: Map<string, Link>, out: DesiredKernel): void {
  const mf = state.host.macFiltered;
  const owner: Owner = { kind: 'macfiltered' };
  out.links.push({ kind: 'bridge', name: mf.bridge, owner, mtu: mf.mtu, master: undefined });
  const uplink = mf.uplink;
  if (typeof uplink === 'string') {
    if (!byName.has(uplink)) out.problems.push({ owner, reason: `MAC_FILTERED uplink '${uplink}' does not exist` });
    else out.enslavements.push({ name: uplink, master: mf.bridge, owner });
  } else if (uplink) {
    const local = uplink.vxlan.localAddress ?? state.host.underlay.address;
    const underlay = uplink.vxlan.device ?? state.host.underlay.device;
    const dev = underlay ? byName.get(underlay) : undefined;
    if (!local || !dev) {
      out.problems.push({ owner, reason: 'MAC_FILTERED vxlan uplink needs host.underlay.address and an existing underlay device' });
      return;
    }
    out.links.push({
      kind: 'vxlan',
      name: MAC_FILTERED_VXLAN_NAME,
      owner,
      mtu: Math.min(mf.mtu, dev.mtu - vxlanOverhead(local)),
      master: mf.bridge,
      vni: uplink.vxlan.vni,
      local,
      underlay: dev.name,
      port: uplink.vxlan.port,
    });
    out.fdb.push(...uplink.vxlan.remotes.map((dst) => ({ dev: MAC_FILTERED_VXLAN_NAME, mac: ALL_ZERO_MAC, dst, owner })));
  }
}

function routedNetworkObjects(net: RoutedNetwork, out: DesiredKernel, _uplinkCarrier: boolean): void {
  const owner: Owner = { kind: 'network', id: net.id };
  out.proxyScopes.push({ dev: net.uplink, cidrs: net.subnets.map((s) => s.cidr) });
  for (const s of net.subnets) {
    const fam = parseCidr(s.cidr).family;
    out.sysctls.push(fam === 4 ? { path: 'net/ipv4/ip_forward', value: '1', owner } : { path: 'net/ipv6/conf/all/forwarding', value: '1', owner });
    if (fam === 6) out.sysctls.push({ path: `net/ipv6/conf/${net.uplink}/proxy_ndp`, value: '1', owner });
    if (!s.gateway) continue;
    // The upstream gateway is on-link on the uplink; everything else goes through it.
    out.routes.push({ family: fam, dst: hostPrefix(s.gateway), table: net.routingTable, dev: net.uplink, gateway: undefined, scope: 'link', owner });
    out.routes.push({ family: fam, dst: fam === 4 ? '0.0.0.0/0' : '::/0', table: net.routingTable, dev: net.uplink, gateway: s.gateway, scope: 'universe', owner });
  }
}

/**
 * Proxy (pneigh) entries exist only on devices with carrier: the kernel flushes them when a
 * device loses carrier (neigh_carrier_down), e.g. when a VM stops. Desiring them only with
 * carrier keeps passes write-free; the carrier-up link event brings them back.
 */
function routedPortObjects(port: Port, dev: string, net: RoutedNetwork, out: DesiredKernel, carrier: { port: boolean; uplink: boolean }): void {
  const owner: Owner = { kind: 'port', id: port.id };
  const families = new Set(net.subnets.map((s) => parseCidr(s.cidr).family));
  for (const fam of families) out.rules.push({ family: fam, iifName: dev, table: net.routingTable, owner });
  if (families.has(4)) out.sysctls.push({ path: `net/ipv4/conf/${dev}/proxy_arp`, value: '1', owner });
  if (families.has(6)) {
    out.sysctls.push({ path: `net/ipv6/conf/${dev}/proxy_ndp`, value: '1', owner });
    // The VM's IPv6 gateway answers on the tap through a proxy entry.
    for (const s of net.subnets) {
      if (carrier.port && s.gateway && family(s.gateway) === 6) out.neighs.push({ family: 6, dev, address: s.gateway, lladdr: undefined, proxy: true, owner, announce: false });
    }
  }
  for (const address of port.addresses) {
    const fam = family(address);
    const dst = hostPrefix(address);
    out.routes.push({ family: fam, dst, table: MAIN_TABLE, dev, gateway: undefined, scope: 'link', owner });
    out.routes.push({ family: fam, dst, table: net.routingTable, dev, gateway: undefined, scope: 'link', owner });
    out.neighs.push({ family: fam, dev, address, lladdr: port.mac, proxy: false, owner, announce: false });
    if (carrier.uplink) out.neighs.push({ family: fam, dev: net.uplink, address, lladdr: undefined, proxy: true, owner, announce: true });
  }
}

function portLink(
  port: Port,
  net: Network,
  state: HostState,
  mtu: number,
  ids: IdResolver,
  problem: (o: Owner, r: string) => void,
): DesiredLink | undefined {
  const owner = { kind: 'port' as const, id: port.id };
  const name = portIfname(port);
  const master = net.type === 'IP_LESS_ROUTED' ? undefined : bridgeName(net, state.host);
  // a routed port's device answers for the VM's gateway: the same MAC on every host
  const routedMac =
    net.type === 'IP_LESS_ROUTED' ? { mac: hostSideMac(port.mac), announceOnMacChange: net.subnets.flatMap((s) => (s.gateway ? [s.gateway] : [])) } : {};
  if (port.kind === 'veth') {
    const veth = port.veth;
    if (!veth) return undefined; // validation guarantees it
    return { kind: 'veth', name, owner, mtu, master, ...routedMac, peerMac: port.mac, peerName: veth.peerName, peerNetns: veth.netns };
  }
  // an adopted tap keeps whatever owner, queues and offloads its VM manager gave it
  if (port.tap?.adopt) return { kind: 'tap', name, owner, mtu, master, ...routedMac, uid: undefined, gid: undefined, multiQueue: false, vnetHdr: true, adopt: true };
  const ownerSpec = port.tap?.owner ?? state.host.tapOwner;
  const groupSpec = port.tap?.group ?? state.host.tapGroup;
  const uid = ownerSpec === undefined ? undefined : ids.uid(ownerSpec);
  const gid = groupSpec === undefined ? undefined : ids.gid(groupSpec);
  if (ownerSpec !== undefined && uid === undefined) {
    problem(owner, `tap owner '${ownerSpec}' is not a known user on this host`);
    return undefined;
  }
  if (groupSpec !== undefined && gid === undefined) {
    problem(owner, `tap group '${groupSpec}' is not a known group on this host`);
    return undefined;
  }
  return { kind: 'tap', name, owner, mtu, master, ...routedMac, uid, gid, multiQueue: port.tap?.multiQueue ?? false, vnetHdr: port.tap?.vnetHdr ?? true, adopt: false };
}

export type { ModelProblem };
