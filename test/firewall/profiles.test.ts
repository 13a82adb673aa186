// Stateful firewall profiles with real TCP: ENABLED refuses new inbound connections but lets
// the VM's own connections and their replies through; PROTECTED adds SSH/RDP; switching
// profiles takes one reconcile and does not disturb other ports' traffic.
import { afterAll, beforeAll, describe, expect } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { Netns, canUseNetns, ipIn } from '../helpers/netns.js';
import { itUnless } from '../helpers/skip.js';
import { sysctl } from '../helpers/topology.js';
import { FirewallReconciler } from '../../src/firewall/reconciler.js';
import type { FirewallProfile } from '../../src/state/schema.js';
import { hostState } from './fixtures.js';
import { addVm, background, bridgedTopology, counter, ping, sysctlSet, tcpConnects, tcpListen, waitFor, type Vm } from './topology.js';

const it = itUnless(canUseNetns() ? undefined : 'needs root to create network namespaces');

async function listening(vm: Vm, addr: string, ports: number[]): Promise<void> {
  expect(await waitFor(() => ports.every((p) => tcpConnects(vm.ns, addr, p)))).toBe(true);
}

describe('firewall profiles on a bridge (IPv4 and IPv6)', () => {
  const netns = new Netns();
  const procs: ChildProcess[] = [];
  let host = '';
  let x: Vm, y: Vm, z: Vm;
  let fw: FirewallReconciler;
  const state = (px: FirewallProfile) =>
    hostState(
      [{ id: 'n1', type: 'CUSTOM', bridge: 'br0', subnets: [{ cidr: '10.2.0.0/24' }, { cidr: '2001:db8:2::/64' }] }],
      [x, y, z].map((v, i) => ({
        id: `p${i}`,
        network: 'n1',
        ifname: v.port,
        mac: v.mac,
        addresses: [v.ip4!.split('/')[0]!, v.ip6!.split('/')[0]!],
        firewallProfile: i === 0 ? px : 'DISABLED',
      })),
    );

  beforeAll(async () => {
    if (!canUseNetns()) return;
    const t = bridgedTopology(
      netns,
      'br0',
      [
        { port: 'vpx', mac: '02:00:00:00:02:01', ip4: '10.2.0.1/24', ip6: '2001:db8:2::1/64' },
        { port: 'vpy', mac: '02:00:00:00:02:02', ip4: '10.2.0.2/24', ip6: '2001:db8:2::2/64' },
        { port: 'vpz', mac: '02:00:00:00:02:03', ip4: '10.2.0.3/24', ip6: '2001:db8:2::3/64' },
      ],
      { ipv6: true },
    );
    host = t.host;
    [x, y, z] = t.vms as [Vm, Vm, Vm];
    procs.push(tcpListen(x.ns, 8080), tcpListen(x.ns, 22), tcpListen(y.ns, 8080));
    await listening(y, '10.2.0.1', [8080, 22]);
    await listening(y, '2001:db8:2::1', [8080]);
    await listening(x, '10.2.0.2', [8080]);
    fw = new FirewallReconciler({ netns: host });
  });
  afterAll(() => {
    for (const p of procs) p.kill('SIGKILL');
    netns.cleanup();
  });

  it('ENABLED refuses inbound TCP, lets outbound connections and their replies, ICMP and ND through', async () => {
    // Bridged IP reaches conntrack only through br_netfilter: the reconciler turns it on.
    sysctlSet(host, 'net.bridge.bridge-nf-call-iptables', '0');
    sysctlSet(host, 'net.bridge.bridge-nf-call-ip6tables', '0');
    await fw.reconcile(state('ENABLED'));
    expect(sysctl(host, 'net/bridge/bridge-nf-call-iptables')).toBe('1');
    expect(sysctl(host, 'net/bridge/bridge-nf-call-ip6tables')).toBe('1');
    const drops = counter(host, 'inet', 'fw_drop');
    expect(tcpConnects(y.ns, '10.2.0.1', 8080)).toBe(false);
    expect(tcpConnects(y.ns, '2001:db8:2::1', 8080)).toBe(false);
    expect(tcpConnects(y.ns, '10.2.0.1', 22)).toBe(false);
    expect(counter(host, 'inet', 'fw_drop')).toBeGreaterThan(drops);
    expect(tcpConnects(x.ns, '10.2.0.2', 8080)).toBe(true);
    expect(tcpConnects(x.ns, '2001:db8:2::2', 8080)).toBe(true);
    ipIn(y.ns, 'neigh', 'flush', 'dev', 'eth0');
    expect(ping(y.ns, '10.2.0.1')).toBe(true);
    expect(ping(y.ns, '2001:db8:2::1')).toBe(true); // needs neighbour discovery to x
  });

  it('PROTECTED adds SSH (and RDP) inbound, nothing else', async () => {
    expect((await fw.reconcile(state('PROTECTED'))).writes).toBe(1);
    expect(tcpConnects(y.ns, '10.2.0.1', 22)).toBe(true);
    expect(tcpConnects(y.ns, '10.2.0.1', 8080)).toBe(false);
    expect(tcpConnects(x.ns, '10.2.0.2', 8080)).toBe(true);
  });

  it('switches DISABLED <-> ENABLED within one reconcile each, without interrupting other ports', async () => {
    // z pings y continuously (every 20 ms) through the switches.
    const pinger = background(z.ns, 'busybox', ['ping', '-c', '150', '-i', '0.02', '-W', '1', '10.2.0.2']);
    let out = '';
    pinger.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    const done = new Promise<void>((r) => pinger.on('close', () => r()));
    for (let round = 0; round < 3; round++) {
      expect((await fw.reconcile(state('DISABLED'))).writes).toBe(1);
      expect(tcpConnects(y.ns, '10.2.0.1', 8080)).toBe(true);
      expect((await fw.reconcile(state('ENABLED'))).writes).toBe(1);
      expect(tcpConnects(y.ns, '10.2.0.1', 8080)).toBe(false);
    }
    await done;
    const m = /(\d+) packets transmitted, (\d+) packets received/.exec(out);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBe(150);
    expect(Number(m![2])).toBe(150);
    expect((await fw.reconcile(state('ENABLED'))).writes).toBe(0);
  });
});

describe('firewall profiles on IP-less routed ports', () => {
  const netns = new Netns();
  const procs: ChildProcess[] = [];
  let host = '';
  let r1: Vm, r2: Vm;
  let fw: FirewallReconciler;
  const state = (p2: FirewallProfile) =>
    hostState(
      [{ id: 'pub', type: 'IP_LESS_ROUTED', uplink: 'up0', routingTable: 100, subnets: [{ cidr: '203.0.113.0/24' }] }],
      [r1, r2].map((v, i) => ({ id: `r${i}`, network: 'pub', ifname: v.port, mac: v.mac, addresses: [v.ip4!.split('/')[0]!], firewallProfile: i === 1 ? p2 : 'DISABLED' })),
    );

  beforeAll(async () => {
    if (!canUseNetns()) return;
    host = netns.add('pt-fh');
    sysctlSet(host, 'net.ipv4.ip_forward', '1');
    const mk = (port: string, mac: string, ip: string): Vm => {
      const vm = addVm(netns, host, { port, mac, ip4: `${ip}/32` });
      ipIn(vm.ns, 'route', 'add', 'default', 'dev', 'eth0');
      sysctlSet(host, `net.ipv4.conf.${port}.proxy_arp`, '1');
      ipIn(host, 'route', 'add', `${ip}/32`, 'dev', port);
      return vm;
    };
    r1 = mk('vr1', '02:00:00:00:03:01', '203.0.113.20');
    r2 = mk('vr2', '02:00:00:00:03:02', '203.0.113.21');
    procs.push(tcpListen(r1.ns, 8080, false), tcpListen(r2.ns, 8080, false));
    await listening(r1, '203.0.113.21', [8080]);
    await listening(r2, '203.0.113.20', [8080]);
    fw = new FirewallReconciler({ netns: host });
  });
  afterAll(() => {
    for (const p of procs) p.kill('SIGKILL');
    netns.cleanup();
  });

  it('ENABLED on a routed port refuses inbound TCP and keeps outbound working; DISABLED opens it again', async () => {
    await fw.reconcile(state('ENABLED'));
    expect(tcpConnects(r1.ns, '203.0.113.21', 8080)).toBe(false);
    expect(tcpConnects(r2.ns, '203.0.113.20', 8080)).toBe(true);
    expect(ping(r1.ns, '203.0.113.21')).toBe(true);
    expect((await fw.reconcile(state('DISABLED'))).writes).toBe(1);
    expect(tcpConnects(r1.ns, '203.0.113.21', 8080)).toBe(true);
  });
});
