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

function addGuard(g: GuardElements, name: string, port: Port): void {
  const q = quoted(name);
  g.guarded.push(q);
  g.portMac.push(`${q} . ${port.mac.toLowerCase()}`);
  for (const a of port.addresses) {
    const f = addressForms(a);
    if (f.family === 4) g.portIp4.push(`${q} . ${f.text}`);
    else {
      g.portIp6.push(`${q} . ${f.text}`);
      g.portNd.push(`${q} . ${f.ndTarget ?? ''}`);
    }
  }
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
    const name = portIfname(port);
    if (!isSafeIfname(name)) {
      skipped.push({ id: port.id, reason: `interface name '${name}' cannot be written into an nft set` });
      continue;
    }
    if (seen.has(name)) {
      skipped.push({ id: port.id, reason: `interface name '${name}' is used by another port` });
      continue;
    }
    seen.add(name);
    const q = quoted(name);
    if (net.type === 'IP_LESS_ROUTED') {
      if (port.portSecurity) addGuard(routed, name, port);
      if (port.firewallProfile === 'ENABLED') routedProfile.push(`${q} : jump fw_enabled`);
      if (port.firewallProfile === 'PROTECTED') routedProfile.push(`${q} : jump fw_protected`);
      continue;
    }
    if (port.portSecurity) addGuard(bridged, name, port);
    if (port.firewallProfile === 'ENABLED') profEnabled.push(q);
    if (port.firewallProfile === 'PROTECTED') profProtected.push(q);
    // Isolation holds even for opted-out ports: opting out of anti-spoofing must not open
    // another private network.
    if (net.type === 'MAC_FILTERED') {
      mfMembers.push(q);
      mfAllowed.push(`${macPrefixRange(net.macPrefix)} . ${q}`);
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

  return { tables: [bridge, inet, arp], skipped, needsBridgeNetfilter: profEnabled.length + profProtected.length > 0 };
}
