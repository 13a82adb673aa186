// Anti-spoofing with real traffic: bridged VMs on one bridge, and routed VMs behind IP-less veths
// with proxy ARP. Also: a rule deleted by hand comes back, other tables are never touched, and
// an unchanged state costs zero writes.
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { Netns, canUseNetns, ipIn, ipJson } from '../helpers/netns.js';
import { itUnless } from '../helpers/skip.js';
import { FirewallReconciler } from '../../src/firewall/reconciler.js';
import { hostState } from './fixtures.js';
import { bridgedTopology, addVm, counter, nft, ping, pingFrom, run, sysctlSet, waitFor, type Vm } from './topology.js';

const it = itUnless(canUseNetns() ? undefined : 'needs root to create network namespaces');

describe('anti-spoofing on a bridge', () => {
  const netns = new Netns();
  let host = '';
  let a: Vm, b: Vm, c: Vm;
  let fw: FirewallReconciler;
  const state = () =>
    hostState(
      [{ id: 'n1', type: 'CUSTOM', bridge: 'br0', subnets: [{ cidr: '10.1.0.0/24' }, { cidr: '2001:db8:1::/64' }] }],
      [a, b, c].map((v, i) => ({ id: `p${i}`, network: 'n1', ifname: v.port, mac: v.mac, addresses: [v.ip4!.split('/')[0]!, v.ip6!.split('/')[0]!] })),
    );

  beforeAll(async () => {
    if (!canUseNetns()) return;
    const t = bridgedTopology(
      netns,
      'br0',
      [
        { port: 'vpa', mac: '02:00:00:00:00:0a', ip4: '10.1.0.10/24', ip6: '2001:db8:1::a/64' },
        { port: 'vpb', mac: '02:00:00:00:00:0b', ip4: '10.1.0.11/24', ip6: '2001:db8:1::b/64' },
        { port: 'vpc', mac: '02:00:00:00:00:0c', ip4: '10.1.0.12/24', ip6: '2001:db8:1::c/64' },
      ],
      { ipv6: true },
    );
    host = t.host;
    [a, b, c] = t.vms as [Vm, Vm, Vm];
    const linkLocal = () => run(a.ns, 'busybox', ['ping', '-6', '-c', '1', '-W', '1', '-I', 'eth0', 'fe80::ff:fe00:b']).ok;
    expect(await waitFor(() => ping(a.ns, '10.1.0.11', 1) && ping(a.ns, '2001:db8:1::b', 1) && linkLocal())).toBe(true);
    fw = new FirewallReconciler({ netns: host });
    expect((await fw.reconcile(state())).writes).toBeGreaterThan(0);
  });
  afterAll(() => netns.cleanup());

  it('lets legitimate IPv4 and IPv6 traffic through', () => {
    expect(ping(a.ns, '10.1.0.11')).toBe(true);
    expect(ping(a.ns, '2001:db8:1::b')).toBe(true);
    expect(run(a.ns, 'busybox', ['ping', '-6', '-c', '2', '-W', '1', '-I', 'eth0', 'fe80::ff:fe00:b']).ok).toBe(true); // link-local is allowed
  });

  it('drops a forged source IPv4 / IPv6 address and counts it', () => {
    ipIn(a.ns, 'addr', 'add', '10.1.0.99/24', 'dev', 'eth0');
    ipIn(a.ns, 'addr', 'add', '2001:db8:1::99/64', 'dev', 'eth0', 'nodad');
    const before4 = counter(host, 'bridge', 'spoof_ip4');
    const before6 = counter(host, 'bridge', 'spoof_ip6');
    expect(pingFrom(a.ns, '10.1.0.99', '10.1.0.11')).toBe(false);
    expect(pingFrom(a.ns, '2001:db8:1::99', '2001:db8:1::b')).toBe(false);
    expect(counter(host, 'bridge', 'spoof_ip4')).toBeGreaterThan(before4);
    expect(counter(host, 'bridge', 'spoof_ip6')).toBeGreaterThan(before6);
    // the VM's own address still works
    expect(pingFrom(a.ns, '10.1.0.10', '10.1.0.11')).toBe(true);
    ipIn(a.ns, 'addr', 'del', '10.1.0.99/24', 'dev', 'eth0');
    ipIn(a.ns, 'addr', 'del', '2001:db8:1::99/64', 'dev', 'eth0');
  });

  it('drops frames with a forged source MAC', () => {
    const before = counter(host, 'bridge', 'spoof_mac');
    ipIn(a.ns, 'link', 'set', 'eth0', 'address', '02:00:00:00:00:99');
    ipIn(b.ns, 'neigh', 'flush', 'dev', 'eth0');
    try {
      expect(ping(a.ns, '10.1.0.11')).toBe(false);
      expect(counter(host, 'bridge', 'spoof_mac')).toBeGreaterThan(before);
    } finally {
      ipIn(a.ns, 'link', 'set', 'eth0', 'address', a.mac);
    }
    expect(ping(a.ns, '10.1.0.11')).toBe(true);
  });

  it("drops ARP replies claiming another VM's address", () => {
    ipIn(b.ns, 'neigh', 'flush', 'dev', 'eth0');
    expect(ping(b.ns, '10.1.0.12', 1)).toBe(true); // b learns c's real MAC
    const before = counter(host, 'bridge', 'spoof_arp');
    // a claims c's address: unsolicited ARP replies (-A) and requests (-U) with sender 10.1.0.12
    run(a.ns, 'busybox', ['arping', '-A', '-c', '2', '-w', '1', '-I', 'eth0', '-s', '10.1.0.12', '10.1.0.12']);
    run(a.ns, 'busybox', ['arping', '-U', '-c', '2', '-w', '1', '-I', 'eth0', '-s', '10.1.0.12', '10.1.0.12']);
    expect(counter(host, 'bridge', 'spoof_arp')).toBeGreaterThan(before);
    const entry = ipJson<{ dst: string; lladdr?: string }[]>(b.ns, 'neigh', 'show', 'dev', 'eth0').find((n) => n.dst === '10.1.0.12');
    expect(entry?.lladdr).toBe(c.mac);
    expect(ping(b.ns, '10.1.0.12', 1)).toBe(true);
  });

  it("drops neighbour advertisements claiming another VM's IPv6 address", async () => {
    ipIn(c.ns, 'neigh', 'flush', 'dev', 'eth0');
    expect(ping(c.ns, '2001:db8:1::b', 1)).toBe(true); // c learns b's real MAC
    const before = counter(host, 'bridge', 'spoof_nd');
    // a takes b's address; with ndisc_notify the kernel announces every address in unsolicited
    // NAs when the MAC changes. Flip the MAC away and back: the second burst leaves with a's own
    // (legitimate) MAC, so only the NA check can stop the claim on b's address.
    sysctlSet(a.ns, 'net.ipv6.conf.eth0.ndisc_notify', '1');
    ipIn(a.ns, 'addr', 'add', '2001:db8:1::b/128', 'dev', 'eth0', 'nodad');
    ipIn(a.ns, 'link', 'set', 'eth0', 'address', '02:00:00:00:00:55');
    ipIn(a.ns, 'link', 'set', 'eth0', 'address', a.mac);
    try {
      expect(await waitFor(() => counter(host, 'bridge', 'spoof_nd') > before)).toBe(true);
      const entry = ipJson<{ dst: string; lladdr?: string }[]>(c.ns, 'neigh', 'show', 'dev', 'eth0').find((n) => n.dst === '2001:db8:1::b');
      expect(entry?.lladdr).toBe(b.mac);
    } finally {
      ipIn(a.ns, 'addr', 'del', '2001:db8:1::b/128', 'dev', 'eth0');
      sysctlSet(a.ns, 'net.ipv6.conf.eth0.ndisc_notify', '0');
    }
    expect(ping(c.ns, '2001:db8:1::b', 1)).toBe(true);
  });

  it('restores a rule deleted by hand, and an unchanged state costs zero writes', async () => {
    expect((await fw.reconcile(state())).writes).toBe(0);
    const listing = nft(host, '-a', 'list', 'chain', 'bridge', 'plumb', 'guard_ip4');
    const handle = /ip saddr != @port_ip4 .* # handle (\d+)/.exec(listing)?.[1];
    expect(handle).toBeDefined();
    nft(host, 'delete', 'rule', 'bridge', 'plumb', 'guard_ip4', 'handle', handle!);
    ipIn(a.ns, 'addr', 'add', '10.1.0.98/24', 'dev', 'eth0');
    // b answers the forged address without ARP (the ARP guard would stop that on its own)
    ipIn(b.ns, 'neigh', 'replace', '10.1.0.98', 'lladdr', a.mac, 'dev', 'eth0', 'nud', 'permanent');
    ipIn(a.ns, 'neigh', 'replace', '10.1.0.11', 'lladdr', b.mac, 'dev', 'eth0', 'nud', 'permanent');
    expect(pingFrom(a.ns, '10.1.0.98', '10.1.0.11')).toBe(true); // the hole is real
    expect((await fw.reconcile(state())).writes).toBe(1);
    expect(pingFrom(a.ns, '10.1.0.98', '10.1.0.11')).toBe(false);
    expect((await fw.reconcile(state())).writes).toBe(0);
    ipIn(a.ns, 'addr', 'del', '10.1.0.98/24', 'dev', 'eth0');
  });

  it('restores a rule changed by hand (drop turned into accept)', async () => {
    const listing = nft(host, '-a', 'list', 'chain', 'bridge', 'plumb', 'port_guard');
    const handle = /ether saddr != @port_mac .* # handle (\d+)/.exec(listing)?.[1];
    expect(handle).toBeDefined();
    nft(host, 'replace', 'rule', 'bridge', 'plumb', 'port_guard', 'handle', handle!, 'iifname', '.', 'ether', 'saddr', '!=', '@port_mac', 'accept');
    expect(nft(host, 'list', 'chain', 'bridge', 'plumb', 'port_guard')).not.toContain('"spoof_mac" drop');
    expect((await fw.reconcile(state())).writes).toBe(1);
    expect(nft(host, 'list', 'chain', 'bridge', 'plumb', 'port_guard')).toContain('iifname . ether saddr != @port_mac counter name "spoof_mac" drop');
    expect((await fw.reconcile(state())).writes).toBe(0);
  });

  it('restores a set element deleted by hand with an element update', async () => {
    nft(host, 'delete', 'element', 'bridge', 'plumb', 'guarded', '{ "vpa" }');
    expect((await fw.reconcile(state())).writes).toBe(1);
    expect(nft(host, 'list', 'set', 'bridge', 'plumb', 'guarded')).toContain('"vpa"');
    expect((await fw.reconcile(state())).writes).toBe(0);
  });

  it('never touches an unrelated table, including on remove()', async () => {
    run(host, 'nft', ['add table inet other']);
    run(host, 'nft', ['add chain inet other c { type filter hook input priority 10; policy accept; }']);
    run(host, 'nft', ['add rule inet other c tcp dport 9999 counter drop']);
    const before = nft(host, 'list', 'table', 'inet', 'other');
    expect(before).toContain('tcp dport 9999');
    await fw.reconcile({ ...state(), ports: state().ports.slice(0, 2) });
    await fw.reconcile(state());
    expect(nft(host, 'list', 'table', 'inet', 'other')).toBe(before);
    await fw.remove();
    expect(nft(host, 'list', 'table', 'inet', 'other')).toBe(before);
    expect(nft(host, 'list', 'tables')).not.toContain('plumb');
    expect((await fw.reconcile(state())).writes).toBe(1);
  });
});

describe('anti-spoofing on IP-less routed ports', () => {
  const netns = new Netns();
  let host = '';
  let r1: Vm, r2: Vm;
  let fw: FirewallReconciler;
  const state = () =>
    hostState(
      [{ id: 'pub', type: 'IP_LESS_ROUTED', uplink: 'up0', routingTable: 100, subnets: [{ cidr: '203.0.113.0/24' }] }],
      [r1, r2].map((v, i) => ({ id: `r${i}`, network: 'pub', ifname: v.port, mac: v.mac, addresses: [v.ip4!.split('/')[0]!] })),
    );

  beforeAll(async () => {
    if (!canUseNetns()) return;
    host = netns.add('pt-fh');
    sysctlSet(host, 'net.ipv4.ip_forward', '1');
    sysctlSet(host, 'net.ipv6.conf.all.disable_ipv6', '1');
    const mk = (port: string, mac: string, ip: string): Vm => {
      const vm = addVm(netns, host, { port, mac, ip4: `${ip}/32` });
      ipIn(vm.ns, 'route', 'add', 'default', 'dev', 'eth0');
      sysctlSet(host, `net.ipv4.conf.${port}.proxy_arp`, '1');
      ipIn(host, 'route', 'add', `${ip}/32`, 'dev', port);
      return vm;
    };
    r1 = mk('vr1', '02:00:00:00:01:01', '203.0.113.10');
    r2 = mk('vr2', '02:00:00:00:01:02', '203.0.113.11');
    expect(await waitFor(() => ping(r1.ns, '203.0.113.11', 1))).toBe(true);
    fw = new FirewallReconciler({ netns: host });
    await fw.reconcile(state());
  });
  afterAll(() => netns.cleanup());

  it('routes legitimate traffic and drops forged sources', () => {
    expect(ping(r1.ns, '203.0.113.11')).toBe(true);
    ipIn(r1.ns, 'addr', 'add', '203.0.113.99/32', 'dev', 'eth0');
    const before = counter(host, 'inet', 'spoof_ip4');
    expect(pingFrom(r1.ns, '203.0.113.99', '203.0.113.11')).toBe(false);
    expect(counter(host, 'inet', 'spoof_ip4')).toBeGreaterThan(before);
    ipIn(r1.ns, 'addr', 'del', '203.0.113.99/32', 'dev', 'eth0');
  });

  it('drops a forged source MAC', () => {
    const before = counter(host, 'inet', 'spoof_mac');
    // a static neighbour, so the forged frame is IPv4 (ARP from the forged MAC is dropped too)
    const hostMac = ipJson<{ address: string }[]>(host, 'link', 'show', 'vr1')[0]!.address;
    ipIn(r1.ns, 'link', 'set', 'eth0', 'address', '02:00:00:00:01:99');
    ipIn(r1.ns, 'neigh', 'replace', '203.0.113.11', 'lladdr', hostMac, 'dev', 'eth0', 'nud', 'permanent');
    try {
      expect(ping(r1.ns, '203.0.113.11')).toBe(false);
      expect(counter(host, 'inet', 'spoof_mac')).toBeGreaterThan(before);
    } finally {
      ipIn(r1.ns, 'link', 'set', 'eth0', 'address', r1.mac);
    }
  });

  it("drops ARP claiming another VM's address before the host learns it", () => {
    const before = counter(host, 'arp', 'spoof_arp');
    run(r1.ns, 'busybox', ['arping', '-U', '-c', '2', '-w', '1', '-I', 'eth0', '-s', '203.0.113.11', '203.0.113.11']);
    expect(counter(host, 'arp', 'spoof_arp')).toBeGreaterThan(before);
    const learnt = ipJson<{ dst: string; dev: string; lladdr?: string }[]>(host, 'neigh', 'show').filter((n) => n.dst === '203.0.113.11');
    expect(learnt.every((n) => n.dev === 'vr2' && n.lladdr !== r1.mac)).toBe(true);
    expect(ping(r1.ns, '203.0.113.11')).toBe(true);
  });

  it('an unchanged state costs zero writes', async () => {
    expect((await fw.reconcile(state())).writes).toBe(0);
  });
});
