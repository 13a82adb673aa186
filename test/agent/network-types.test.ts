// Every network type creates exactly its objects on the real kernel (read back with ip/bridge
// -json, independently of plumb's own code), a second pass writes nothing, undesired objects
// are removed, and objects plumb does not own survive every pass.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openKernelHandle } from '../../src/kernel/handle.js';
import type { KernelHandle } from '../../src/kernel/types.js';
import { Reconciler } from '../../src/agent/reconciler.js';
import { validateHostState } from '../../src/state/validate.js';
import { describeOp } from '../../src/agent/ops.js';
import { Netns, ipIn } from '../helpers/netns.js';
import { itUnless } from '../helpers/skip.js';
import { fdb, link, links, neighs, routes, rules, sysctl, vethBetween, vlanUnsupportedReason, waitUntil } from '../helpers/topology.js';

const netns = new Netns();
let host: string;
let peer: string;
let vm: string;
let handle: KernelHandle;
// Probed at collection time so the skip is decided (and printed) before tests run.
const vlanSkip = (() => {
  const probe = new Netns();
  try {
    return vlanUnsupportedReason(probe);
  } finally {
    probe.cleanup();
  }
})();

function state(networks: unknown[], ports: unknown[]) {
  return {
    schemaVersion: 1,
    generation: 1,
    host: { name: 'h1', underlay: { device: 'underlay0', address: '10.99.0.1' }, tapOwner: 0, macFiltered: { bridge: 'plumbmf0', uplink: 'mfup0' } },
    networks,
    ports,
  };
}

const NETWORKS = [
  { id: 'x1', type: 'VXLAN', segmentId: 4242, remotes: ['10.99.0.2', '10.99.0.3'] },
  { id: 'mf1', type: 'MAC_FILTERED', macPrefix: 'aa:00:01' },
  { id: 'pub', type: 'IP_LESS_ROUTED', uplink: 'pubup0', routingTable: 101, subnets: [{ cidr: '203.0.113.0/24', gateway: '203.0.113.1' }, { cidr: '2001:db8:1::/64', gateway: '2001:db8:1::1' }] },
  { id: 'c1', type: 'CUSTOM', bridge: 'br-custom' },
];
const PORTS = () => [
  { id: 'p-vx', network: 'x1', mac: 'aa:00:00:00:01:01' },
  { id: 'p-mf', network: 'mf1', mac: 'aa:00:01:00:01:02' },
  { id: 'p-pub', network: 'pub', mac: 'aa:00:00:00:01:03', addresses: ['203.0.113.9', '2001:db8:1::9'] },
  { id: 'p-veth', network: 'x1', mac: 'aa:00:00:00:01:04', kind: 'veth', veth: { netns: vm, peerName: 'eth0' } },
  { id: 'p-c', network: 'c1', mac: 'aa:00:00:00:01:05' },
];

beforeAll(async () => {
  host = netns.add('pt-ah');
  peer = netns.add('pt-ap');
  vm = netns.add('pt-av');
  vethBetween(host, 'underlay0', peer, 'underlay1');
  ipIn(host, 'addr', 'add', '10.99.0.1/24', 'dev', 'underlay0');
  vethBetween(host, 'pubup0', peer, 'pubup1');
  vethBetween(host, 'mfup0', peer, 'mfup1');
  ipIn(host, 'link', 'add', 'br-custom', 'type', 'bridge'); // operator's bridge: CUSTOM target
  // Objects plumb does not own, which must survive every pass.
  ipIn(host, 'link', 'add', 'br-ops', 'type', 'bridge');
  ipIn(host, 'link', 'set', 'br-ops', 'up');
  ipIn(host, 'addr', 'add', '198.51.100.1/24', 'dev', 'br-ops');
  ipIn(host, 'route', 'add', '192.0.2.0/24', 'via', '198.51.100.254', 'table', '101');
  ipIn(host, 'rule', 'add', 'priority', '1000', 'iif', 'br-ops', 'table', '50');
  handle = await openKernelHandle({ netns: host });
});

afterAll(() => {
  handle?.close();
  netns.cleanup();
});

describe('agent on the real kernel', () => {
  let firstWrites = 0;

  it('creates exactly the objects of every network type', async () => {
    const r = new Reconciler(handle);
    const res = await r.reconcile(validateHostState(state(NETWORKS, PORTS())));
    expect(res.failures).toEqual([]);
    expect(res.problems).toEqual([]);
    expect(res.converged).toBe(true);
    firstWrites = res.writes;

    // VXLAN: bridge + vxlan (VNI, local, 4789, nolearning, MTU fits the 1500 underlay) + HER FDB
    const vx = link(host, 'pvx-x1');
    expect(vx?.linkinfo?.info_kind).toBe('vxlan');
    expect(vx?.linkinfo?.info_data).toMatchObject({ id: 4242, local: '10.99.0.1', port: 4789, learning: false, link: 'underlay0' });
    expect(vx?.master).toBe('pbr-x1');
    expect(vx?.mtu).toBe(1450);
    expect(vx?.ifalias).toBe('plumb:net:x1');
    expect(link(host, 'pbr-x1')?.linkinfo?.info_kind).toBe('bridge');
    const her = fdb(host, 'pvx-x1').filter((e) => e.mac === '00:00:00:00:00:00').map((e) => e.dst).sort();
    expect(her).toEqual(['10.99.0.2', '10.99.0.3']);
    // tap port on the VXLAN bridge, persistent, owned by uid 0
    const tap = link(host, 'tapp-vx');
    expect(tap?.linkinfo?.info_kind).toBe('tun');
    expect(tap?.linkinfo?.info_data).toMatchObject({ type: 'tap', pi: false, vnet_hdr: true, persist: true, user: 'root' });
    expect(tap?.master).toBe('pbr-x1');
    expect(tap?.flags).toContain('UP');
    // veth port: host side on the bridge, peer created directly in the VM namespace with the port MAC
    expect(link(host, 'vethp-veth')?.master).toBe('pbr-x1');
    expect(link(vm, 'eth0')?.address).toBe('aa:00:00:00:01:04');
    // MAC_FILTERED: the shared bridge with the uplink and the port enslaved
    expect(link(host, 'plumbmf0')?.linkinfo?.info_kind).toBe('bridge');
    expect(link(host, 'mfup0')?.master).toBe('plumbmf0');
    expect(link(host, 'tapp-mf')?.master).toBe('plumbmf0');
    // CUSTOM: enslaved to the operator's bridge, which plumb does not own
    expect(link(host, 'tapp-c')?.master).toBe('br-custom');
    expect(link(host, 'br-custom')?.ifalias).toBeUndefined();
    // IP_LESS_ROUTED: no bridge, no address on the tap, proxy ARP/NDP, policy routing
    const pub = link(host, 'tapp-pub');
    expect(pub?.master).toBeUndefined();
    expect(ipIn(host, 'addr', 'show', 'dev', 'tapp-pub')).not.toMatch(/inet /);
    expect(sysctl(host, 'net/ipv4/conf/tapp-pub/proxy_arp')).toBe('1');
    expect(sysctl(host, 'net/ipv6/conf/tapp-pub/proxy_ndp')).toBe('1');
    expect(sysctl(host, 'net/ipv6/conf/pubup0/proxy_ndp')).toBe('1');
    expect(sysctl(host, 'net/ipv4/ip_forward')).toBe('1');
    const main4 = routes(host, 4, 'main').filter((x) => x.protocol === '146');
    expect(main4).toEqual([expect.objectContaining({ dst: '203.0.113.9', dev: 'tapp-pub', scope: 'link' })]);
    const t4 = routes(host, 4, 101).filter((x) => x.protocol === '146');
    expect(t4.map((x) => `${x.dst} ${x.gateway ?? '-'} ${x.dev}`).sort()).toEqual(['203.0.113.1 - pubup0', '203.0.113.9 - tapp-pub', 'default 203.0.113.1 pubup0']);
    const t6 = routes(host, 6, 101).filter((x) => x.protocol === '146');
    expect(t6.map((x) => `${x.dst} ${x.gateway ?? '-'} ${x.dev}`).sort()).toEqual(['2001:db8:1::1 - pubup0', '2001:db8:1::9 - tapp-pub', 'default 2001:db8:1::1 pubup0']);
    expect(rules(host, 4).filter((x) => x.iif === 'tapp-pub')).toEqual([expect.objectContaining({ priority: 20000, table: '101' })]);
    expect(rules(host, 6).filter((x) => x.iif === 'tapp-pub')).toEqual([expect.objectContaining({ priority: 20000, table: '101' })]);
    const perm = neighs(host).filter((n) => n.dev === 'tapp-pub').map((n) => `${n.dst} ${n.lladdr}`).sort();
    expect(perm).toEqual(['2001:db8:1::9 aa:00:00:00:01:03', '203.0.113.9 aa:00:00:00:01:03']);
    // proxies for the VM's addresses on the uplink; none on the tap yet: it has no carrier
    // (no VM attached) and the kernel flushes proxy entries of carrier-less devices
    const proxies = neighs(host, true).map((n) => `${n.dst} ${n.dev}`).sort();
    expect(proxies).toEqual(['2001:db8:1::9 pubup0', '203.0.113.9 pubup0']);
  });

  it('answers for the IPv6 gateway on a routed port once it has carrier', async () => {
    const ports = [...PORTS(), { id: 'p-rv', network: 'pub', mac: 'aa:00:00:00:01:07', addresses: ['203.0.113.10'], kind: 'veth', veth: { netns: vm, peerName: 'eth1' } }];
    const r = new Reconciler(handle);
    await r.reconcile(validateHostState(state(NETWORKS, ports)));
    ipIn(vm, 'link', 'set', 'eth1', 'up'); // the VM side comes up: carrier on both ends
    await waitUntil(() => link(host, 'vethp-rv')?.flags.includes('LOWER_UP') ?? false, 10_000);
    const res = await r.reconcile(validateHostState(state(NETWORKS, ports)));
    expect(res.ops.map(describeOp)).toEqual(['ip -6 neigh add proxy 2001:db8:1::1 dev vethp-rv']);
    expect(neighs(host, true).filter((n) => n.dev === 'vethp-rv').map((n) => n.dst)).toEqual(['2001:db8:1::1']);
    const again = await r.reconcile(validateHostState(state(NETWORKS, ports)));
    expect(again.writes).toBe(0);
    await r.reconcile(validateHostState(state(NETWORKS, PORTS()))); // back to the common state
    expect(link(host, 'vethp-rv')).toBeUndefined();
  });

  it('a second pass, and a fresh agent over the converged host, write nothing', async () => {
    expect(firstWrites).toBeGreaterThan(0);
    const again = await new Reconciler(handle).reconcile(validateHostState(state(NETWORKS, PORTS())));
    expect(again.ops.map(describeOp)).toEqual([]);
    expect(again.writes).toBe(0);
  });

  it('a rejected object changes nothing while the others converge', async () => {
    const ports = PORTS();
    ports[0] = { ...ports[0]!, mac: 'bad' };
    ports.push({ id: 'p-new', network: 'mf1', mac: 'aa:00:01:00:01:06' });
    const tapFacts = (): string => {
      const l = link(host, 'tapp-vx');
      return JSON.stringify([l?.ifindex, l?.master, l?.mtu, l?.ifalias, l?.address, l?.linkinfo?.info_data]);
    };
    const before = tapFacts();
    const res = await new Reconciler(handle).reconcile(validateHostState(state(NETWORKS, ports)));
    expect(res.rejections.map((x) => `${x.field}: ${x.reason}`)).toEqual(['ports[0].mac: not a MAC address (six colon-separated hex octets)']);
    expect(tapFacts()).toBe(before);
    expect(link(host, 'tapp-new')?.master).toBe('plumbmf0');
  });

  it('removes its objects when no longer desired and leaves foreign ones untouched', async () => {
    const res = await new Reconciler(handle).reconcile(validateHostState(state([], [])));
    expect(res.failures).toEqual([]);
    const names = links(host).map((l) => l.ifname).sort();
    expect(names).toEqual(['br-custom', 'br-ops', 'lo', 'mfup0', 'pubup0', 'underlay0']);
    expect(link(vm, 'eth0')).toBeUndefined(); // the veth pair went with its host side
    expect(routes(host, 4, 'all').filter((x) => x.protocol === '146')).toEqual([]);
    expect(routes(host, 6, 'all').filter((x) => x.protocol === '146')).toEqual([]);
    expect(neighs(host, true)).toEqual([]);
    expect(rules(host, 4).filter((x) => x.priority === 20000)).toEqual([]);
    // foreign objects survive
    expect(routes(host, 4, 101)).toEqual([expect.objectContaining({ dst: '192.0.2.0/24', gateway: '198.51.100.254' })]);
    expect(rules(host, 4).filter((x) => x.iif === 'br-ops')).toEqual([expect.objectContaining({ priority: 1000, table: '50' })]);
    expect(link(host, 'br-ops')?.flags).toContain('UP');
  });

  itUnless(vlanSkip)('PHYSICAL_VLAN creates <uplink>.<vid> enslaved to a bridge per network', async () => {
    const nets = [{ id: 'v10', type: 'PHYSICAL_VLAN', uplink: 'underlay0', segmentId: 10 }];
    const res = await new Reconciler(handle).reconcile(validateHostState(state(nets, [{ id: 'pv', network: 'v10', mac: 'aa:00:00:00:02:01' }])));
    expect(res.failures).toEqual([]);
    expect(link(host, 'underlay0.10')?.master).toBe('pbr-v10');
    expect(link(host, 'tappv')?.master).toBe('pbr-v10');
  });
});
