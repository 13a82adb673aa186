// Reconciler logic on an in-memory kernel (test/helpers/fake-kernel.ts). The same behaviours
// are proven on the real kernel in test/agent/.
import { beforeEach, describe, expect, it } from 'vitest';
import { Reconciler } from '../../../src/agent/reconciler.js';
import { validateHostState } from '../../../src/state/validate.js';
import { describeOp } from '../../../src/agent/ops.js';
import { RTPROT_PLUMB } from '../../../src/agent/ownership.js';
import { FakeKernel } from '../../helpers/fake-kernel.js';

const ids = () => ({ uid: (o: string | number) => (o === 'qemu' ? 64055 : typeof o === 'number' ? o : undefined), gid: (g: string | number) => (typeof g === 'number' ? g : undefined) });

function doc(extra: { networks?: unknown[]; ports?: unknown[] } = {}) {
  return {
    schemaVersion: 1,
    generation: 1,
    host: { name: 'h1', underlay: { device: 'eth0', address: '10.0.0.1' }, tapOwner: 'qemu', macFiltered: { bridge: 'plumbmf0', uplink: 'eth2' } },
    networks: [
      { id: 'x1', type: 'VXLAN', segmentId: 5001, remotes: ['10.0.0.2', '10.0.0.3'] },
      { id: 'mf1', type: 'MAC_FILTERED', macPrefix: 'aa:00:01' },
      { id: 'pub', type: 'IP_LESS_ROUTED', uplink: 'eth1', routingTable: 100, subnets: [{ cidr: '203.0.113.0/24', gateway: '203.0.113.1' }, { cidr: '2001:db8::/64', gateway: '2001:db8::1' }] },
      ...(extra.networks ?? []),
    ],
    ports: [
      { id: 'p1', network: 'x1', mac: 'aa:00:00:00:00:01' },
      { id: 'p2', network: 'mf1', mac: 'aa:00:01:00:00:02' },
      { id: 'p3', network: 'pub', mac: 'aa:00:00:00:00:03', addresses: ['203.0.113.7', '2001:db8::7'] },
      ...(extra.ports ?? []),
    ],
  };
}

describe('Reconciler on a fake kernel', () => {
  let k: FakeKernel;
  let r: Reconciler;
  beforeEach(() => {
    k = new FakeKernel();
    k.addForeignLink('eth0', 'other', 9000);
    k.addForeignLink('eth1');
    k.addForeignLink('eth2');
    r = new Reconciler(k, { ids });
  });

  it('a port joining an existing bridge is enslaved and set up when it is created: no separate link set', async () => {
    await r.reconcile(validateHostState(doc()));
    const writes = k.writes;
    const next = await r.reconcile(validateHostState(doc({ ports: [{ id: 'p4', network: 'mf1', mac: 'aa:00:01:00:00:04' }, { id: 'p5', network: 'x1', mac: 'aa:00:00:00:00:05' }] })));
    expect(next.converged).toBe(true);
    const byName = (n: string) => k.links.find((l) => l.name === n)!;
    expect(byName('tapp4')).toMatchObject({ up: true, masterIndex: byName('plumbmf0').index });
    expect(byName('tapp5')).toMatchObject({ up: true, masterIndex: byName('pbr-x1').index });
    // the plan still lists the link set; executing it was folded into the creation
    expect(next.ops.filter((o) => o.kind === 'linkSet').map(describeOp).sort()).toEqual(['ip link set tapp4 master plumbmf0 up', 'ip link set tapp5 master pbr-x1 up']);
    expect(k.writes - writes).toBe(2); // the two creations
    expect((await r.reconcile(validateHostState(doc({ ports: [{ id: 'p4', network: 'mf1', mac: 'aa:00:01:00:00:04' }, { id: 'p5', network: 'x1', mac: 'aa:00:00:00:00:05' }] })))).writes).toBe(0);
  });

  it('a port created with its bridge in the same pass is still enslaved (a separate link set)', async () => {
    const first = await r.reconcile(validateHostState(doc({ networks: [{ id: 'x2', type: 'VXLAN', segmentId: 5002, remotes: [] }], ports: [{ id: 'p6', network: 'x2', mac: 'aa:00:00:00:00:06' }] })));
    expect(first.converged).toBe(true);
    const byName = (n: string) => k.links.find((l) => l.name === n)!;
    expect(byName('tapp6')).toMatchObject({ up: true, masterIndex: byName('pbr-x2').index });
  });

  it('creates the objects of every network type, then a second pass writes nothing', async () => {
    const first = await r.reconcile(validateHostState(doc()));
    expect(first.failures).toEqual([]);
    expect(first.problems).toEqual([]);
    expect(first.converged).toBe(true);
    const names = k.links.map((l) => l.name);
    expect(names).toEqual(expect.arrayContaining(['pbr-x1', 'pvx-x1', 'plumbmf0', 'tapp1', 'tapp2', 'tapp3']));
    const vx = k.links.find((l) => l.name === 'pvx-x1');
    expect(vx).toMatchObject({ kind: 'vxlan', vni: 5001, local: '10.0.0.1', learning: false, port: 4789, mtu: 1500 });
    const byName = (n: string) => k.links.find((l) => l.name === n)!;
    expect(byName('tapp1').masterIndex).toBe(byName('pbr-x1').index);
    expect(byName('eth2').masterIndex).toBe(byName('plumbmf0').index); // MAC_FILTERED uplink
    expect(byName('tapp3').masterIndex).toBeUndefined(); // routed: no bridge
    expect(byName('tapp1')).toMatchObject({ kind: 'tap', owner: 64055, up: true });
    expect(k.fdb.map((f) => f.dst).sort()).toEqual(['10.0.0.2', '10.0.0.3']);
    // routed port: host routes in main and table 100, rules, neighbours, proxies, sysctls
    const tap3 = byName('tapp3').index;
    expect(k.routes.filter((x) => x.oifIndex === tap3).map((x) => `${x.table} ${x.dst}`).sort()).toEqual(['100 2001:db8::7/128', '100 203.0.113.7/32', '254 2001:db8::7/128', '254 203.0.113.7/32']);
    expect(k.routes.every((x) => x.protocol === RTPROT_PLUMB)).toBe(true);
    expect(k.routes.find((x) => x.table === 100 && x.dst === '0.0.0.0/0')).toMatchObject({ gateway: '203.0.113.1', oifIndex: byName('eth1').index });
    expect(k.rules.map((x) => `${x.family} ${x.iifName} ${x.table}`).sort()).toEqual(['4 tapp3 100', '6 tapp3 100']);
    expect(k.neighs.filter((n) => !n.proxy).map((n) => `${n.address} ${n.lladdr}`).sort()).toEqual(['2001:db8::7 aa:00:00:00:00:03', '203.0.113.7 aa:00:00:00:00:03']);
    expect(k.neighs.filter((n) => n.proxy && n.ifIndex === byName('eth1').index).map((n) => n.address).sort()).toEqual(['2001:db8::7', '203.0.113.7']);
    expect(k.announced.map((a) => a.address).sort()).toEqual(['2001:db8::7', '203.0.113.7']);
    expect(k.sysctls.get('net/ipv4/conf/tapp3/proxy_arp')).toBe('1');
    expect(k.sysctls.get('net/ipv4/ip_forward')).toBe('1');

    const writes = k.writes;
    const second = await r.reconcile(validateHostState(doc()));
    expect(second.ops.map(describeOp)).toEqual([]);
    expect(k.writes).toBe(writes);
  });

  it('installs the IPv6 gateway proxy on a routed tap only while it has carrier (the kernel flushes it otherwise)', async () => {
    await r.reconcile(validateHostState(doc()));
    const tap = k.links.find((l) => l.name === 'tapp3')!;
    expect(k.neighs.some((n) => n.ifIndex === tap.index && n.proxy)).toBe(false);
    tap.carrier = true; // QEMU attached
    const res = await r.reconcile(validateHostState(doc()));
    expect(res.ops.map(describeOp)).toEqual(['ip -6 neigh add proxy 2001:db8::1 dev tapp3']);
    tap.carrier = false; // VM stopped: the kernel flushed the entry
    k.neighs = k.neighs.filter((n) => !(n.ifIndex === tap.index && n.proxy));
    expect((await r.reconcile(validateHostState(doc()))).writes).toBe(0);
  });

  it('sizes the VXLAN MTU to fit its underlay', async () => {
    k.links.find((l) => l.name === 'eth0')!.mtu = 1500;
    await r.reconcile(validateHostState(doc()));
    expect(k.links.find((l) => l.name === 'pvx-x1')!.mtu).toBe(1450);
    expect(k.links.find((l) => l.name === 'tapp1')!.mtu).toBe(1450);
  });

  it('removes what is no longer desired, bottom-up, and leaves foreign objects alone', async () => {
    await r.reconcile(validateHostState(doc()));
    const foreignBridge = k.addForeignLink('br-ops', 'bridge');
    k.routes.push({ family: 4, dst: '198.51.100.0/24', table: 254, oifIndex: foreignBridge.index, gateway: undefined, protocol: 4, scope: 'link', type: 'unicast', metric: 0 });
    k.rules.push({ family: 4, priority: 1000, iifName: 'br-ops', table: 50, protocol: 4 });
    const empty = { ...doc(), networks: [], ports: [] };
    const res = await r.reconcile(validateHostState(empty));
    expect(res.failures).toEqual([]);
    expect(k.links.map((l) => l.name).sort()).toEqual(['br-ops', 'eth0', 'eth1', 'eth2']);
    expect(k.routes.map((x) => x.dst)).toEqual(['198.51.100.0/24']);
    expect(k.rules.map((x) => x.iifName)).toEqual(['br-ops']);
    expect(k.neighs).toEqual([]);
    const kinds = res.ops.map((o) => o.kind);
    expect(kinds.indexOf('ruleDel')).toBeLessThan(kinds.indexOf('linkDel'));
    const dels = res.ops.filter((o) => o.kind === 'linkDel').map((o) => (o.kind === 'linkDel' ? o.link.kind : ''));
    expect(dels.indexOf('bridge')).toBeGreaterThan(dels.indexOf('tap'));
  });

  it('a rejected port changes nothing in the kernel while the others converge', async () => {
    await r.reconcile(validateHostState(doc()));
    const p3Objects = () => {
      const tap = k.links.find((l) => l.name === 'tapp3')!;
      return JSON.stringify({
        tap,
        routes: k.routes.filter((x) => x.oifIndex === tap.index),
        rules: k.rules.filter((x) => x.iifName === 'tapp3'),
        neighs: k.neighs.filter((n) => n.ifIndex === tap.index || ['203.0.113.7', '2001:db8::7'].includes(n.address)),
      });
    };
    const before = p3Objects();
    const d = doc({ ports: [{ id: 'p4', network: 'x1', mac: 'aa:00:00:00:00:04' }] });
    d.ports[2] = { ...d.ports[2]!, mac: 'not-a-mac' } as never; // p3 now invalid
    const res = await r.reconcile(validateHostState(d));
    expect(res.rejections).toHaveLength(1);
    expect(res.rejections[0]).toMatchObject({ id: 'p3', field: 'ports[2].mac' });
    expect(res.converged).toBe(false);
    expect(res.ports.find((p) => p.id === 'p3')).toMatchObject({ status: 'ERROR' });
    expect(res.ports.find((p) => p.id === 'p4')).toMatchObject({ status: 'ACTIVE' });
    expect(k.links.some((l) => l.name === 'tapp4')).toBe(true);
    expect(p3Objects()).toBe(before);
    expect(res.ops.filter((o) => o.owner.kind === 'port' && o.owner.id === 'p3')).toEqual([]);
  });

  it('a rejected port is frozen even after an agent restart (no last-good copy)', async () => {
    await r.reconcile(validateHostState(doc()));
    const fresh = new Reconciler(k, { ids });
    const d = doc();
    d.ports[0] = { ...d.ports[0]!, mac: 'zz' } as never;
    const res = await fresh.reconcile(validateHostState(d));
    expect(res.ops.filter((o) => o.kind === 'linkDel')).toEqual([]);
    expect(k.links.some((l) => l.name === 'tapp1')).toBe(true);
  });

  it('repairs drift: a deleted route, rule, neighbour and a bridge port released by hand', async () => {
    await r.reconcile(validateHostState(doc()));
    k.routes = k.routes.filter((x) => x.dst !== '203.0.113.7/32' || x.table !== 254);
    k.rules = k.rules.filter((x) => x.family !== 4);
    k.neighs = k.neighs.filter((n) => n.address !== '203.0.113.7' || n.proxy);
    k.links.find((l) => l.name === 'tapp1')!.masterIndex = undefined;
    const res = await r.reconcile(validateHostState(doc()));
    expect(res.ops.map(describeOp).sort()).toEqual(
      [
        'ip -4 route replace 203.0.113.7/32 dev tapp3 table 254 scope link',
        'ip -4 rule add iif tapp3 table 100',
        'ip -4 neigh replace 203.0.113.7 lladdr aa:00:00:00:00:03 dev tapp3 nud permanent',
        'ip link set tapp1 master pbr-x1',
      ].sort(),
    );
  });

  it('never recreates a tap whose immutable attributes differ; reports it instead', async () => {
    await r.reconcile(validateHostState(doc()));
    const d = doc();
    d.host.tapOwner = 1234 as never;
    const res = await r.reconcile(validateHostState(d));
    expect(res.ops.filter((o) => o.kind === 'linkDel' || o.kind === 'linkAdd')).toEqual([]);
    expect(res.problems.map((p) => p.reason).join()).toMatch(/taps are never recreated/);
  });

  it('recreates a VXLAN device whose VNI changed, keeping its bridge and ports', async () => {
    await r.reconcile(validateHostState(doc()));
    const bridgeIndex = k.links.find((l) => l.name === 'pbr-x1')!.index;
    const d = doc();
    (d.networks[0] as { segmentId: number }).segmentId = 5002;
    const res = await r.reconcile(validateHostState(d));
    expect(res.failures).toEqual([]);
    expect(k.links.find((l) => l.name === 'pvx-x1')).toMatchObject({ vni: 5002, masterIndex: bridgeIndex, up: true });
    expect(k.links.find((l) => l.name === 'pbr-x1')!.index).toBe(bridgeIndex);
    expect(k.fdb.map((f) => f.dst).sort()).toEqual(['10.0.0.2', '10.0.0.3']);
  });

  it('keeps the FDB equal to the desired remotes', async () => {
    await r.reconcile(validateHostState(doc()));
    const d = doc();
    (d.networks[0] as { remotes: string[] }).remotes = ['10.0.0.3', '10.0.0.4'];
    await r.reconcile(validateHostState(d));
    expect(k.fdb.map((f) => f.dst).sort()).toEqual(['10.0.0.3', '10.0.0.4']);
  });

  it('does not touch a device of the same name that plumb does not own', async () => {
    k.addForeignLink('tapp1');
    const res = await r.reconcile(validateHostState(doc()));
    expect(res.problems.map((p) => p.reason)).toContain("device 'tapp1' exists and is not managed by plumb; not touched");
    expect(res.ports.find((p) => p.id === 'p1')).toMatchObject({ status: 'ERROR' });
    expect(res.ports.find((p) => p.id === 'p2')).toMatchObject({ status: 'ACTIVE' });
  });

  it('reports a missing uplink against its network and its ports only', async () => {
    k.links = k.links.filter((l) => l.name !== 'eth1');
    const res = await r.reconcile(validateHostState(doc()));
    expect(res.problems.map((p) => p.reason)).toContain("uplink device 'eth1' does not exist");
    expect(res.ports.find((p) => p.id === 'p3')).toMatchObject({ status: 'ERROR' });
    expect(res.ports.find((p) => p.id === 'p1')).toMatchObject({ status: 'ACTIVE' });
  });

  it('one failing op fails only its owner', async () => {
    const orig = k.linkAdd.bind(k);
    k.linkAdd = async (spec) => {
      if (spec.name === 'tapp2') throw new Error('boom');
      return orig(spec);
    };
    const res = await r.reconcile(validateHostState(doc()));
    expect(res.failures.map((f) => f.owner)).toEqual([{ kind: 'port', id: 'p2' }]);
    expect(res.ports.find((p) => p.id === 'p2')).toMatchObject({ status: 'ERROR', reason: expect.stringMatching(/boom/) });
    expect(res.ports.filter((p) => p.status === 'ACTIVE').map((p) => p.id).sort()).toEqual(['p1', 'p3']);
  });
});
