// Pure parts: state -> tables, the listing parser and the planner, without a kernel. The
// round trip render -> nft -> listing is proven by the traffic tests (zero-write second pass).
import { describe, expect, it } from 'vitest';
import { desiredFirewall } from '../../src/firewall/desired.js';
import { parseListing, type LiveTables } from '../../src/firewall/listing.js';
import { planFirewall } from '../../src/firewall/plan.js';
import { renderTable, skeletonLines, type TableSpec } from '../../src/firewall/spec.js';
import { ipv6AsInteger, macPrefixRange } from '../../src/firewall/elements.js';
import { hostState, manyPorts } from './fixtures.js';

const els = (t: TableSpec, set: string) => t.sets.find((s) => s.name === set)?.elements ?? [];

const mixed = () =>
  hostState(
    [
      { id: 'lan', type: 'CUSTOM', bridge: 'br0', subnets: [{ cidr: '10.0.0.0/24' }, { cidr: '2001:db8::/64' }] },
      { id: 'mfa', type: 'MAC_FILTERED', macPrefix: 'aa:00:01' },
      { id: 'pub', type: 'IP_LESS_ROUTED', uplink: 'eth9', routingTable: 10, subnets: [{ cidr: '203.0.113.0/24' }] },
    ],
    [
      { id: 'a', network: 'lan', ifname: 'tapa', mac: '02:00:00:00:00:0A', addresses: ['10.0.0.5', '2001:db8::5'], firewallProfile: 'ENABLED' },
      { id: 'b', network: 'lan', ifname: 'tapb', mac: '02:00:00:00:00:0b', portSecurity: false, firewallProfile: 'PROTECTED' },
      { id: 'm', network: 'mfa', ifname: 'tapm', mac: 'aa:00:01:12:34:56' },
      { id: 'r', network: 'pub', ifname: 'tapr', mac: '02:00:00:00:00:0c', addresses: ['203.0.113.7'], firewallProfile: 'ENABLED' },
    ],
    { macFiltered: { bridge: 'plumbmf0', uplink: 'eth1' } },
  );

describe('desiredFirewall keeps per-port elements per port object', () => {
  it('an unchanged port object gives the same elements; a changed one (new object or new values) its new ones', () => {
    const first = mixed();
    const before = desiredFirewall(first).tables[0] as TableSpec;
    // the same objects again (as validation hands them out for unchanged ports): same result
    expect(desiredFirewall(first).tables[0]).toEqual(before);
    // a port object reused with other values (a mutable object) is not served from the cache
    const reused = first.ports.find((p) => p.id === 'a') as { mac: string; addresses: string[] };
    reused.mac = '02:00:00:00:00:aa';
    reused.addresses = ['10.0.0.6'];
    const after = desiredFirewall(first).tables[0] as TableSpec;
    expect(els(after, 'port_mac')).toContain('"tapa" . 02:00:00:00:00:aa');
    expect(els(after, 'port_mac')).not.toContain('"tapa" . 02:00:00:00:00:0a');
    expect(els(after, 'port_ip4')).toEqual(['"tapa" . 10.0.0.6']);
    expect(els(after, 'port_ip6')).toEqual([]);
    // and the same port object under a changed network gets that network's elements
    const moved = { ...first, networks: first.networks.map((n) => (n.id === 'mfa' ? { ...n, macPrefix: 'aa:00' } : n)) } as typeof first;
    expect(els(desiredFirewall(moved).tables[0] as TableSpec, 'mf_allowed')).toContain(`${macPrefixRange('aa:00')} . "tapm"`);
  });
});

describe('desiredFirewall', () => {
  const d = desiredFirewall(mixed());
  const [bridge, inet, arp] = d.tables as [TableSpec, TableSpec, TableSpec];

  it('guards bridged ports in the bridge table and routed ports in inet + arp', () => {
    expect(els(bridge, 'guarded')).toEqual(['"tapa"', '"tapm"']);
    expect(els(bridge, 'port_mac')).toContain('"tapa" . 02:00:00:00:00:0a');
    expect(els(bridge, 'port_ip4')).toEqual(['"tapa" . 10.0.0.5']);
    expect(els(bridge, 'port_ip6')).toEqual(['"tapa" . 2001:db8::5']);
    expect(els(bridge, 'port_nd')).toEqual(['"tapa" . 0x20010db8000000000000000000000005']);
    expect(els(inet, 'guarded')).toEqual(['"tapr"']);
    expect(els(inet, 'port_ip4')).toEqual(['"tapr" . 203.0.113.7']);
    expect(els(arp, 'port_ip4')).toEqual(['"tapr" . 203.0.113.7']);
    expect(els(arp, 'guarded')).toEqual(['"tapr"']);
  });

  it('leaves an opted-out port unguarded but keeps its profile', () => {
    expect(els(bridge, 'guarded')).not.toContain('"tapb"');
    expect(els(bridge, 'prof_protected')).toEqual(['"tapb"']);
    expect(els(bridge, 'prof_enabled')).toEqual(['"tapa"']);
    expect(els(inet, 'routed_profile')).toEqual(['"tapr" : jump fw_enabled']);
    expect(d.needsBridgeNetfilter).toBe(true);
  });

  it('puts MAC_FILTERED ports and the uplink in the isolation sets by prefix range', () => {
    expect(els(bridge, 'mf_members')).toEqual(['"eth1"', '"tapm"']);
    expect(els(bridge, 'mf_allowed')).toEqual(['aa:00:01:00:00:00-aa:00:01:ff:ff:ff . "eth1"', 'aa:00:01:00:00:00-aa:00:01:ff:ff:ff . "tapm"']);
  });

  it('keeps the rules fixed: ports only change set elements', () => {
    const small = desiredFirewall(manyPorts(3, 'ENABLED'));
    const big = desiredFirewall(manyPorts(300, 'ENABLED'));
    expect(small.tables.map(skeletonLines)).toEqual(big.tables.map(skeletonLines));
    expect(els(big.tables[0]!, 'port_mac')).toHaveLength(300);
  });

  it('needs no br_netfilter and loads no conntrack rules while every port is DISABLED', () => {
    const d = desiredFirewall(manyPorts(2));
    expect(d.needsBridgeNetfilter).toBe(false);
    expect(d.tables[1]!.chains.map((c) => c.name)).not.toContain('fw_enabled');
    expect(d.tables.flatMap((t) => t.chains.flatMap((c) => c.rules)).some((r) => r.includes('ct state'))).toBe(false);
    expect(desiredFirewall(manyPorts(2, 'ENABLED')).tables[1]!.chains.map((c) => c.name)).toContain('fw_enabled');
  });

  it('skips (and reports) a port whose interface name collides, keeping the others', () => {
    const s = manyPorts(2);
    s.ports.push({ ...s.ports[0]!, id: 'dup' });
    const r = desiredFirewall(s);
    expect(r.skipped).toEqual([{ id: 'dup', reason: "interface name 'vp0' is used by another port" }]);
    expect(els(r.tables[0]!, 'guarded')).toEqual(['"vp0"', '"vp1"']);
  });
});

describe('element formatting', () => {
  it('formats MAC prefix ranges and ND target integers as nft prints them', () => {
    expect(macPrefixRange('AA:00')).toBe('aa:00:00:00:00:00-aa:00:ff:ff:ff:ff');
    expect(macPrefixRange('aa:00:01:02:03')).toBe('aa:00:01:02:03:00-aa:00:01:02:03:ff');
    expect(ipv6AsInteger('2001:db8::1')).toBe('0x20010db8000000000000000000000001');
    expect(ipv6AsInteger('::1')).toBe('0x1');
  });
});

/** What `nft -s list ruleset` would print for these tables (same layout as nft's own output). */
function listingOf(tables: TableSpec[], extra = ''): string {
  return extra + tables.map(renderTable).join('');
}

describe('listing parser and planner', () => {
  const desired = desiredFirewall(manyPorts(4, 'ENABLED')).tables;

  it('plans nothing when the live tables match, and ignores other tables', () => {
    const live = parseListing(listingOf(desired, 'table inet other {\n\tchain c {\n\t\ttcp dport 22 drop\n\t}\n}\n'));
    expect([...live.keys()]).toEqual(['bridge plumb', 'inet plumb', 'arp plumb']);
    expect(planFirewall(desired, live).script).toBe('');
  });

  it('parses multi-line element blocks', () => {
    const live = parseListing(listingOf(desired));
    expect(live.get('bridge plumb')?.elements.get('port_mac')?.size).toBe(4);
    expect(live.get('bridge plumb')?.skeleton).toEqual(skeletonLines(desired[0]!));
  });

  it('updates only the elements that differ, deletions first', () => {
    const live = parseListing(listingOf(desired));
    const next = desiredFirewall(manyPorts(5, 'ENABLED')).tables;
    next[0]!.sets.find((s) => s.name === 'prof_enabled')!.elements = ['"vp0"', '"vp1"', '"vp2"', '"vp4"']; // vp3 -> DISABLED
    const plan = planFirewall(next, live);
    expect(plan.replaced).toEqual([]);
    const lines = plan.script.trim().split('\n');
    expect(lines[0]).toBe('delete element bridge plumb prof_enabled { "vp3" }');
    expect(lines).toContain('add element bridge plumb port_mac { "vp4" . 02:00:00:00:00:04 }');
    expect(plan.deleted).toBe(1);
  });

  it('replaces a table atomically when a rule is missing', () => {
    const live: LiveTables = parseListing(listingOf(desired));
    const bridge = live.get('bridge plumb')!;
    bridge.skeleton = bridge.skeleton.filter((l) => !l.includes('spoof_ip4" drop'));
    const plan = planFirewall(desired, live);
    expect(plan.replaced).toEqual(['bridge plumb']);
    expect(plan.script.startsWith('table bridge plumb\ndelete table bridge plumb\ntable bridge plumb {')).toBe(true);
  });

  it('creates missing tables', () => {
    expect(planFirewall(desired, new Map()).replaced).toEqual(['bridge plumb', 'inet plumb', 'arp plumb']);
  });

  it("an empty desired state wants no table, and the plan deletes plumb's live ones, never another", () => {
    expect(desiredFirewall(hostState([], [])).tables).toEqual([]);
    // a network without ports still wants the tables (a MAC_FILTERED uplink is isolated by them)
    expect(desiredFirewall(hostState([{ id: 'mfa', type: 'MAC_FILTERED', macPrefix: 'aa:00:01' }], [])).tables).toHaveLength(3);
    const live = parseListing(listingOf(desired, 'table inet other {\n\tchain c {\n\t\ttcp dport 22 drop\n\t}\n}\n'));
    const plan = planFirewall([], live);
    expect(plan.dropped).toEqual(['bridge plumb', 'inet plumb', 'arp plumb']);
    expect(plan.script).toBe('delete table bridge plumb\ndelete table inet plumb\ndelete table arp plumb\n');
    expect(planFirewall([], new Map()).script).toBe('');
  });
});
