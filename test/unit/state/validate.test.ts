import { describe, expect, it } from 'vitest';
import { validateHostState, StateValidationError } from '../../../src/state/validate.js';

const base = () => ({
  schemaVersion: 1,
  generation: 3,
  host: { name: 'h1', underlay: { device: 'eth0', address: '10.0.0.1' } },
  networks: [
    { id: 'n1', type: 'MAC_FILTERED', macPrefix: 'aa:00:01', subnets: [{ cidr: '192.168.1.0/24', gateway: '192.168.1.1' }] },
    { id: 'pub', type: 'IP_LESS_ROUTED', uplink: 'eth1', routingTable: 100, subnets: [{ cidr: '203.0.113.0/24', gateway: '203.0.113.1' }] },
    { id: 'v1', type: 'PHYSICAL_VLAN', uplink: 'eth2', segmentId: 10 },
    { id: 'x1', type: 'VXLAN', segmentId: 5000, remotes: ['10.0.0.2'] },
  ] as Record<string, unknown>[],
  ports: [
    { id: 'p1', network: 'n1', mac: 'aa:00:01:00:00:01', addresses: ['192.168.1.10'] },
    { id: 'p2', network: 'pub', mac: 'aa:00:00:00:00:02', addresses: ['203.0.113.7'], kind: 'veth', veth: { netns: 'vm2' } },
  ] as Record<string, unknown>[],
});

describe('validateHostState', () => {
  it('accepts a valid state and applies defaults', () => {
    const v = validateHostState(base());
    expect(v.rejections).toEqual([]);
    expect(v.state.networks.map((n) => n.id)).toEqual(['n1', 'pub', 'v1', 'x1']);
    expect(v.state.ports[0]?.kind).toBe('tap');
    expect(v.state.ports[0]?.firewallProfile).toBe('DISABLED');
    expect(v.state.networks[0]?.mtu).toBe(1500);
  });

  it('an unchanged (frozen) port is judged again when its network changes, and the same as the first time otherwise', () => {
    // documents from the bus share frozen objects between versions; per-port results are kept per object
    const port = Object.freeze({ id: 'p9', network: 'n1', mac: 'aa:00:01:00:00:09', addresses: Object.freeze(['192.168.1.9', '192.168.1.19']) });
    const net = (cidr: string) => Object.freeze({ id: 'n1', type: 'MAC_FILTERED', macPrefix: 'aa:00:01', subnets: Object.freeze([Object.freeze({ cidr })]) });
    const doc = (n: object, ports: object[]) => ({ ...base(), networks: [n], ports });
    const inside = net('192.168.1.0/24');
    expect(validateHostState(doc(inside, [port])).rejections).toEqual([]);
    expect(validateHostState(doc(inside, [port])).state.ports.map((p) => p.id)).toEqual(['p9']);
    const moved = validateHostState(doc(net('10.9.0.0/16'), [port]));
    expect(moved.rejections).toEqual([{ kind: 'port', id: 'p9', field: 'ports[0].addresses[0]', reason: "192.168.1.9 is outside every subnet of network 'n1' (10.9.0.0/16)" }]);
    // the cross-object checks still see the other ports of each document
    const twin = Object.freeze({ id: 'p10', network: 'n1', mac: 'aa:00:01:00:00:0a', addresses: Object.freeze(['192.168.1.19']) });
    expect(validateHostState(doc(inside, [port, twin])).rejections).toEqual([{ kind: 'port', id: 'p10', field: 'ports[1].addresses[0]', reason: "192.168.1.19 is already used by port 'p9' on network 'n1'" }]);
    expect(validateHostState(doc(inside, [twin, port])).rejections).toEqual([{ kind: 'port', id: 'p9', field: 'ports[1].addresses[1]', reason: "192.168.1.19 is already used by port 'p10' on network 'n1'" }]);
  });

  it('rejects a bad envelope as a whole, naming the field', () => {
    expect(() => validateHostState({ ...base(), schemaVersion: 2 })).toThrow(StateValidationError);
    expect(() => validateHostState({ ...base(), schemaVersion: 2 })).toThrow(/state.schemaVersion/);
    expect(() => validateHostState({ ...base(), host: { name: 'h', tapOwner: -1 } })).toThrow(/state.host.tapOwner/);
  });

  const cases: [string, (s: ReturnType<typeof base>) => void, RegExp, RegExp][] = [
    ['an interface name over 15 bytes', (s) => { s.ports[0]!.ifname = 'a-very-long-name0'; }, /ports\[0\]\.ifname/, /15 bytes/],
    ['a bad MAC', (s) => { s.ports[0]!.mac = 'aa:00:01:00:00'; }, /ports\[0\]\.mac/, /not a MAC/],
    ['a multicast MAC', (s) => { s.ports[0]!.mac = '01:00:01:00:00:01'; }, /ports\[0\]\.mac/, /unicast/],
    ['a bad CIDR', (s) => { (s.networks[0]!.subnets as { cidr: string }[])[0]!.cidr = '192.168.1.0/33'; }, /networks\[0\]\.subnets\[0\]\.cidr/, /CIDR/],
    ['host bits in a CIDR', (s) => { (s.networks[0]!.subnets as { cidr: string }[])[0]!.cidr = '192.168.1.5/24'; }, /networks\[0\]\.subnets\[0\]\.cidr/, /host bits/],
    ['a gateway outside its subnet', (s) => { (s.networks[0]!.subnets as { gateway: string }[])[0]!.gateway = '10.9.9.9'; }, /gateway/, /outside/],
    ['an address outside its subnet', (s) => { s.ports[0]!.addresses = ['10.1.1.1']; }, /ports\[0\]\.addresses\[0\]/, /outside every subnet/],
    ['an unknown network reference', (s) => { s.ports[0]!.network = 'nope'; }, /ports\[0\]\.network/, /unknown network 'nope'/],
    ['a MAC without the network prefix', (s) => { s.ports[0]!.mac = 'aa:00:02:00:00:01'; }, /ports\[0\]\.mac/, /MAC prefix/],
    ['a VLAN id over 4094', (s) => { s.networks[2]!.segmentId = 4095; }, /networks\[2\]\.segmentId/, /1-4094/],
    ['a veth port without a namespace', (s) => { delete s.ports[1]!.veth; }, /ports\[1\]\.veth/, /veth\.netns/],
    ['a reserved routing table', (s) => { s.networks[1]!.routingTable = 254; }, /networks\[1\]\.routingTable/, /reserved/],
  ];
  for (const [what, mutate, field, reason] of cases) {
    it(`rejects ${what} with the field and reason, keeping the rest`, () => {
      const s = base();
      mutate(s);
      const v = validateHostState(s);
      expect(v.rejections[0]!.field).toMatch(field);
      expect(v.rejections[0]!.reason).toMatch(reason);
      const rejectedId = v.rejections[0]!.id!;
      // the only other rejections are ports of a rejected network, saying so
      for (const r of v.rejections.slice(1)) expect(r.reason).toBe(`network '${rejectedId}' was rejected`);
      // everything else is still accepted
      const kept = [...v.state.networks.map((n) => n.id), ...v.state.ports.map((p) => p.id)];
      expect(kept).not.toContain(rejectedId);
      expect(kept.length).toBe(6 - v.rejections.length);
    });
  }

  it('rejects a second port with the same MAC or address on a network, keeping the first', () => {
    const s = base();
    s.ports.push({ id: 'p3', network: 'n1', mac: 'aa:00:01:00:00:01' });
    s.ports.push({ id: 'p4', network: 'n1', mac: 'aa:00:01:00:00:04', addresses: ['192.168.1.10'] });
    const v = validateHostState(s);
    expect(v.rejections.map((r) => [r.id, r.field])).toEqual([
      ['p3', 'ports[2].mac'],
      ['p4', 'ports[3].addresses[0]'],
    ]);
    expect(v.rejections[0]!.reason).toMatch(/already used by port 'p1'/);
    expect(v.frozenPorts).toEqual(new Set(['p3', 'p4']));
    expect(v.state.ports.map((p) => p.id)).toEqual(['p1', 'p2']);
  });

  it('rejects two networks with one VLAN id on an uplink', () => {
    const s = base();
    s.networks.push({ id: 'v2', type: 'PHYSICAL_VLAN', uplink: 'eth2', segmentId: 10 });
    s.networks.push({ id: 'v3', type: 'PHYSICAL_VLAN', uplink: 'eth3', segmentId: 10 });
    const v = validateHostState(s);
    expect(v.rejections).toHaveLength(1);
    expect(v.rejections[0]).toMatchObject({ id: 'v2', field: 'networks[4].segmentId' });
    expect(v.rejections[0]!.reason).toMatch(/already used by network 'v1'/);
  });

  it('rejects ports of a rejected network with that reason, and freezes both', () => {
    const s = base();
    s.networks[0]!.macPrefix = 'zz';
    const v = validateHostState(s);
    expect(v.rejections.map((r) => r.id)).toEqual(['n1', 'p1']);
    expect(v.rejections[1]!.reason).toMatch(/network 'n1' was rejected/);
    expect(v.frozenNetworks.has('n1')).toBe(true);
    expect(v.frozenPorts.has('p1')).toBe(true);
  });

  it('rejects derived interface names that collide', () => {
    const s = base();
    s.ports.push({ id: 'p1x', network: 'n1', mac: 'aa:00:01:00:00:09', ifname: 'tapp1' });
    const v = validateHostState(s);
    expect(v.rejections[0]).toMatchObject({ id: 'p1x', field: 'ports[2].ifname' });
    expect(v.rejections[0]!.reason).toMatch(/collides with port 'p1'/);
  });
});
