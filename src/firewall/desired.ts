// HostState -> the three tables plumb wants (pure; unit-tested). Bridged ports (every network type
// but IP_LESS_ROUTED) are guarded in `bridge plumb`; routed ports, whose traffic goes through the
// host's IP stack, in `inet plumb` (IP) and `arp plumb` (ARP). Stateful profiles live in
// `inet plumb` for both: bridged frames reach it through br_netfilter, tagged by a packet mark.
import type { HostState, Network, Port } from '../state/schema.js';
import { portIfname, MAC_FILTERED_VXLAN_NAME } from '../state/names.js';
import type { TableSpec } from './spec.js';
import * as R from './rules.js';
import { addressForms, isSafeIfname, macPrefixRange, quoted } from './elements.js';

export interface SkippedPort {
  id: string;
  reason: string;
}

export interface DesiredFirewall {
  tables: TableSpec[];
  /** Ports left out because they cannot be expressed safely (reported, never fatal). */
  skipped: SkippedPort[];
  /** True when some bridged port has a stateful profile: br_netfilter must hand bridged IP to inet. */
  needsBridgeNetfilter: boolean;
}

/** Per-port facts shared by the bridge and inet guards. */
interface GuardElements {
  guarded: string[];
  portMac: string[];
  portIp4: string[];
  portIp6: string[];
  portNd: string[];
}

function emptyGuard(): GuardElements {
  return { guarded: [], portMac: [], portIp4: [], portIp6: [], portNd: [] };
}

/** A port's elements, which depend only on the port and its network. */
interface PortFacts {
  name: string;
  /** the quoted name, or undefined when it cannot be written into a set */
  q: string | undefined;
  mac: string;
  ip4: string[];
  ip6: string[];
  nd: string[];
  /** MAC_FILTERED only: `<prefix range> . "<name>"` */
  mfAllowed: string | undefined;
}

// Kept per port object (validation hands out the same object for an unchanged port, document
// after document): an unchanged port costs a lookup per pass, not a rebuild of its strings (~2 µs
// a port, every pass, at 1,000 ports). The fields the facts come from are compared too, so an
// object reused with other values is recomputed. Keyed weakly: dropped with the port object.
const factsCache = new WeakMap<Port, { net: Network; id: string; kind: Port['kind']; ifname: string | undefined; mac: string; addresses: readonly string[]; facts: PortFacts }>();

function portFacts(port: Port, net: Network): PortFacts {
  const hit = factsCache.get(port);
  if (hit && hit.net === net && hit.id === port.id && hit.kind === port.kind && hit.ifname === port.ifname && hit.mac === port.mac && hit.addresses === port.addresses) return hit.facts;
  const name = portIfname(port);
  const q = isSafeIfname(name) ? quoted(name) : undefined;
  const facts: PortFacts = { name, q, mac: `${q} . ${port.mac.toLowerCase()}`, ip4: [], ip6: [], nd: [], mfAllowed: undefined };
  if (q !== undefined) {
    for (const a of port.addresses) {
      const f = addressForms(a);
      if (f.family === 4) facts.ip4.push(`${q} . ${f.text}`);
      else {
        facts.ip6.push(`${q} . ${f.text}`);
        facts.nd.push(`${q} . ${f.ndTarget ?? ''}`);
      }
    }
    if (net.type === 'MAC_FILTERED') facts.mfAllowed = `${macPrefixRange(net.macPrefix)} . ${q}`;
  }
  factsCache.set(port, { net, id: port.id, kind: port.kind, ifname: port.ifname, mac: port.mac, addresses: port.addresses, facts });
  return facts;
}

/** `q`: the port's quoted name (its facts hold it when the name is safe). */
function addGuard(g: GuardElements, f: PortFacts, q: string): void {
  g.guarded.push(q);
  g.portMac.push(f.mac);
  for (const e of f.ip4) g.portIp4.push(e);
  for (const e of f.ip6) g.portIp6.push(e);
  for (const e of f.nd) g.portNd.push(e);
}

const uniq = (xs: string[]): string[] => [...new Set(xs)];

function guardSets(g: GuardElements): TableSpec['sets'] {
  return [
    { name: 'guarded', decl: ['type ifname'], elements: uniq(g.guarded) },
    { name: 'port_mac', decl: ['type ifname . ether_addr'], elements: uniq(g.portMac) },
    { name: 'port_ip4', decl: ['type ifname . ipv4_addr'], elements: uniq(g.portIp4) },
    { name: 'port_ip6', decl: ['type ifname . ipv6_addr'], elements: uniq(g.portIp6) },
    { name: 'port_nd', decl: ['typeof iifname . @th,64,128'], elements: uniq(g.portNd) },
  ];
}

function mfUplink(host: HostState['host']): string | undefined {
  const u = host.macFiltered.uplink;
  if (u === undefined) return undefined;
  return typeof u === 'string' ? u : MAC_FILTERED_VXLAN_NAME;
}

export function desiredFirewall(state: HostState): DesiredFirewall {
  const networks = new Map<string, Network>(state.networks.map((n) => [n.id, n]));
  const skipped: SkippedPort[] = [];
  const bridged = emptyGuard();
  const routed = emptyGuard();
  const mfMembers: string[] = [];
  const mfAllowed: string[] = [];
  const profEnabled: string[] = [];
  const profProtected: string[] = [];
  const routedProfile: string[] = [];

  const mfNetworks = state.networks.filter((n) => n.type === 'MAC_FILTERED');
  const uplink = mfUplink(state.host);
  if (mfNetworks.length > 0 && uplink !== undefined && isSafeIfname(uplink)) {
    mfMembers.push(quoted(uplink));
    for (const n of mfNetworks) mfAllowed.push(`${macPrefixRange(n.macPrefix)} . ${quoted(uplink)}`);
  }

  const seen = new Set<string>();
  for (const port of state.ports) {
    const net = networks.get(port.network);
    if (!net) {
      skipped.push({ id: port.id, reason: `network '${port.network}' is not in the accepted state` });
      continue;
    }
    const f = portFacts(port, net);
    const { name, q } = f;
    if (q === undefined) {
      skipped.push({ id: port.id, reason: `interface name '${name}' cannot be written into an nft set` });
      continue;
    }
    if (seen.has(name)) {
      skipped.push({ id: port.id, reason: `interface name '${name}' is used by another port` });
      continue;
    }
    seen.add(name);
    if (net.type === 'IP_LESS_ROUTED') {
      if (port.portSecurity) addGuard(routed, f, q);
      if (port.firewallProfile === 'ENABLED') routedProfile.push(`${q} : jump fw_enabled`);
      if (port.firewallProfile === 'PROTECTED') routedProfile.push(`${q} : jump fw_protected`);
      continue;
    }
    if (port.portSecurity) addGuard(bridged, f, q);
    if (port.firewallProfile === 'ENABLED') profEnabled.push(q);
    if (port.firewallProfile === 'PROTECTED') profProtected.push(q);
    // Isolation holds even for opted-out ports: opting out of anti-spoofing must not open
    // another private network.
    if (f.mfAllowed !== undefined) {
      mfMembers.push(q);
      mfAllowed.push(f.mfAllowed);
    }
  }

  const bridge: TableSpec = {
    family: 'bridge',
    counters: R.BRIDGE_COUNTERS,
    sets: [
      ...guardSets(bridged),
      { name: 'mf_members', decl: ['type ifname'], elements: mfMembers },
      { name: 'mf_allowed', decl: ['type ether_addr . ifname', 'flags interval'], elements: mfAllowed },
      { name: 'prof_enabled', decl: ['type ifname'], elements: profEnabled },
      { name: 'prof_protected', decl: ['type ifname'], elements: profProtected },
    ],
    chains: [
      { name: 'guard_pre', hook: R.HOOK_BRIDGE_PREROUTING, rules: ['iifname @guarded jump port_guard'] },
      { name: 'port_guard', rules: R.BRIDGE_PORT_GUARD },
      { name: 'guard_arp', rules: R.GUARD_ARP },
      { name: 'guard_ip4', rules: R.GUARD_IP4 },
      { name: 'guard_ip6', rules: R.GUARD_IP6 },
      { name: 'guard_na', rules: R.GUARD_NA },
      { name: 'forward_filter', hook: R.HOOK_BRIDGE_FORWARD, rules: R.BRIDGE_FORWARD },
    ],
  };

  const anyProfile = profEnabled.length + profProtected.length + routedProfile.length > 0;
  const inet: TableSpec = {
    family: 'inet',
    counters: R.INET_COUNTERS,
    sets: [...guardSets(routed), { name: 'routed_profile', decl: ['type ifname : verdict'], elements: routedProfile, map: true }],
    chains: [
      { name: 'guard_pre', hook: R.HOOK_INET_PREROUTING, rules: ['iifname @guarded jump port_guard'] },
      { name: 'port_guard', rules: R.INET_PORT_GUARD },
      { name: 'guard_ip4', rules: R.GUARD_IP4 },
      { name: 'guard_ip6', rules: R.GUARD_IP6 },
      { name: 'guard_na', rules: R.GUARD_NA },
      // The profile chains hold the only `ct` expressions: loading them turns conntrack on for the
      // whole namespace, a per-packet cost paid only while some port has a profile.
      ...(anyProfile
        ? [
            { name: 'profile_forward', hook: R.HOOK_INET_FORWARD, rules: R.INET_FORWARD },
            { name: 'profile_output', hook: R.HOOK_INET_OUTPUT, rules: ['oifname vmap @routed_profile'] },
            { name: 'fw_enabled', rules: R.FW_ENABLED },
            { name: 'fw_protected', rules: R.FW_PROTECTED },
          ]
        : []),
    ],
  };

  const arp: TableSpec = {
    family: 'arp',
    counters: R.ARP_COUNTERS,
    sets: [
      { name: 'guarded', decl: ['type ifname'], elements: uniq(routed.guarded) },
      { name: 'port_mac', decl: ['type ifname . ether_addr'], elements: uniq(routed.portMac) },
      { name: 'port_ip4', decl: ['type ifname . ipv4_addr'], elements: uniq(routed.portIp4) },
    ],
    chains: [
      { name: 'guard_in', hook: R.HOOK_ARP_INPUT, rules: ['iifname @guarded jump guard_arp'] },
      { name: 'guard_arp', rules: R.GUARD_ARP },
    ],
  };

  // A host with nothing of plumb's on it has none of plumb's tables either: an empty desired state
  // (`plumb agent apply` of one is how an operator takes a host's plumbing down) removes them.
  const nothing = state.networks.length === 0 && state.ports.length === 0;
  return { tables: nothing ? [] : [bridge, inet, arp], skipped, needsBridgeNetfilter: profEnabled.length + profProtected.length > 0 };
}
