// Two MAC_FILTERED networks sharing one bridge (and an uplink to "other hosts"): traffic,
// ARP and broadcast flow inside each network and nothing crosses, whatever the VMs send.
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { Netns, canUseNetns, ipIn, ipJson } from '../helpers/netns.js';
import { itUnless } from '../helpers/skip.js';
import { FirewallReconciler } from '../../src/firewall/reconciler.js';
import { hostState } from './fixtures.js';
import { addVm, bridgedTopology, capture, counter, ping, run, waitFor, type Vm } from './topology.js';

const it = itUnless(canUseNetns() ? undefined : 'needs root to create network namespaces');

describe('MAC_FILTERED isolation on the shared bridge', () => {
  const netns = new Netns();
  let host = '';
  let a1: Vm, a2: Vm, b1: Vm, b2: Vm, out: Vm;
  let fw: FirewallReconciler;
  const state = (a2Security = true) =>
    hostState(
      [
        { id: 'mfa', type: 'MAC_FILTERED', macPrefix: 'aa:00:01', subnets: [{ cidr: '10.9.0.0/24' }] },
        { id: 'mfb', type: 'MAC_FILTERED', macPrefix: 'aa:00:02', subnets: [{ cidr: '10.9.0.0/24' }] },
      ],
      [a1, a2, b1, b2].map((v) => ({
        id: v.port,
        network: v.mac.startsWith('aa:00:01') ? 'mfa' : 'mfb',
        ifname: v.port,
        mac: v.mac,
        addresses: [v.ip4!.split('/')[0]!],
        portSecurity: v === a2 ? a2Security : true,
      })),
      { macFiltered: { bridge: 'plumbmf0', uplink: 'mfup' } },
    );

  beforeAll(async () => {
    if (!canUseNetns()) return;
    const t = bridgedTopology(netns, 'plumbmf0', [
      { port: 'vma1', mac: 'aa:00:01:00:00:01', ip4: '10.9.0.1/24' },
      { port: 'vma2', mac: 'aa:00:01:00:00:02', ip4: '10.9.0.2/24' },
      { port: 'vmb1', mac: 'aa:00:02:00:00:01', ip4: '10.9.0.11/24' },
      { port: 'vmb2', mac: 'aa:00:02:00:00:02', ip4: '10.9.0.12/24' },
    ]);
    host = t.host;
    [a1, a2, b1, b2] = t.vms as [Vm, Vm, Vm, Vm];
    // The uplink towards other hosts: a namespace standing for a VM of network A elsewhere.
    out = addVm(netns, host, { port: 'mfup', mac: 'aa:00:01:00:00:99', ip4: '10.9.0.99/24' });
    ipIn(host, 'link', 'set', 'mfup', 'master', 'plumbmf0');
    // Control: without plumb's rules the networks are not private at all.
    expect(await waitFor(() => ping(a1.ns, '10.9.0.11', 1) && ping(out.ns, '10.9.0.12', 1))).toBe(true);
    for (const v of [a1, a2, b1, b2, out]) ipIn(v.ns, 'neigh', 'flush', 'dev', 'eth0');
    fw = new FirewallReconciler({ netns: host });
    await fw.reconcile(state());
  });
  afterAll(() => netns.cleanup());

  it('ping and ARP work inside each network', () => {
    expect(ping(a1.ns, '10.9.0.2')).toBe(true);
    expect(ping(b2.ns, '10.9.0.11')).toBe(true);
    expect(ping(out.ns, '10.9.0.1')).toBe(true); // over the uplink, same prefix
  });

  it('nothing crosses between the networks, over the bridge or the uplink', () => {
    const before = counter(host, 'bridge', 'mf_isolation');
    expect(ping(a1.ns, '10.9.0.11')).toBe(false);
    expect(ping(b1.ns, '10.9.0.2')).toBe(false);
    expect(ping(out.ns, '10.9.0.12')).toBe(false);
    expect(counter(host, 'bridge', 'mf_isolation')).toBeGreaterThan(before);
    // b1 never even saw a1's ARP requests
    expect(ipJson<{ dst: string }[]>(b1.ns, 'neigh', 'show', 'dev', 'eth0').some((n) => n.dst === '10.9.0.1')).toBe(false);
  });

  it('broadcast reaches only the sender network', async () => {
    const fromA1 = 'ether src aa:00:01:00:00:01';
    const [inA2, inB1, inB2] = await Promise.all([capture(a2.ns, 'eth0', fromA1), capture(b1.ns, 'eth0', fromA1), capture(b2.ns, 'eth0', fromA1)]);
    // broadcast ARP requests for an address nobody has, and an IPv4 broadcast datagram
    run(a1.ns, 'busybox', ['arping', '-b', '-c', '3', '-w', '2', '-I', 'eth0', '10.9.0.200']);
    run(a1.ns, 'sh', ['-c', 'echo hi | socat -u - UDP4-DATAGRAM:10.9.0.255:9999,broadcast']);
    expect(await inA2.stop()).toBeGreaterThanOrEqual(4);
    expect(await inB1.stop()).toBe(0);
    expect(await inB2.stop()).toBe(0);
  });

  it('an opted-out port (no anti-spoofing) still cannot reach another network with a forged prefix', async () => {
    expect((await fw.reconcile(state(false))).writes).toBe(1);
    ipIn(a2.ns, 'link', 'set', 'eth0', 'address', 'aa:00:02:00:00:77');
    try {
      expect(ping(a2.ns, '10.9.0.11')).toBe(false);
    } finally {
      ipIn(a2.ns, 'link', 'set', 'eth0', 'address', a2.mac);
    }
    expect(ping(a2.ns, '10.9.0.1')).toBe(true);
    expect((await fw.reconcile(state(false))).writes).toBe(0);
  });
});
