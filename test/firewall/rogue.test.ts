// A VM running a DHCP server or sending Router Advertisements is not heard by its neighbours,
// who still get their address from the host's server (dnsmasq here, standing in for plumb's
// responder). Each case first shows the rogue IS heard without plumb's rules.
import { afterAll, beforeAll, describe, expect } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Netns, canUseNetns, ipIn, ipJson } from '../helpers/netns.js';
import { itUnless } from '../helpers/skip.js';
import { FirewallReconciler } from '../../src/firewall/reconciler.js';
import { hostState } from './fixtures.js';
import { background, bridgedTopology, counter, run, sleep, waitFor, type Vm } from './topology.js';

const it = itUnless(canUseNetns() ? undefined : 'needs root to create network namespaces');

/** One DHCP attempt; returns the leased address or undefined. Nothing is configured. */
function dhcpLease(vm: Vm): string | undefined {
  const r = run(vm.ns, 'busybox', ['udhcpc', '-i', 'eth0', '-n', '-q', '-f', '-t', '3', '-T', '1', '-A', '1', '-s', '/bin/true'], 15_000);
  return /lease of ([\d.]+) obtained/.exec(r.out)?.[1];
}

function hasRaDefaultRoute(vm: Vm): boolean {
  return ipJson<{ dst: string; protocol?: string }[]>(vm.ns, '-6', 'route', 'show', 'default').some((r) => r.protocol === 'ra');
}

describe('rogue DHCP servers and routers in VMs', () => {
  const netns = new Netns();
  const procs: ChildProcess[] = [];
  let dir = '';
  let host = '';
  let rogue: Vm, client: Vm;
  let fw: FirewallReconciler;
  const state = () =>
    hostState(
      [{ id: 'n1', type: 'CUSTOM', bridge: 'br0', subnets: [{ cidr: '10.3.0.0/24' }, { cidr: '2001:db8:66::/64' }] }],
      [
        { id: 'rogue', network: 'n1', ifname: rogue.port, mac: rogue.mac, addresses: ['10.3.0.5', '2001:db8:66::5'] },
        { id: 'client', network: 'n1', ifname: client.port, mac: client.mac, addresses: ['10.3.0.120'] },
      ],
    );

  beforeAll(async () => {
    if (!canUseNetns()) return;
    dir = mkdtempSync(join(tmpdir(), 'pt-fw-rogue-'));
    const t = bridgedTopology(
      netns,
      'br0',
      [
        { port: 'vprog', mac: '02:00:00:00:04:01', ip4: '10.3.0.5/24', ip6: '2001:db8:66::5/64' },
        { port: 'vpcli', mac: '02:00:00:00:04:02' },
      ],
      { ipv6: true },
    );
    host = t.host;
    [rogue, client] = t.vms as [Vm, Vm];
    ipIn(host, 'addr', 'add', '10.3.0.1/24', 'dev', 'br0');
    fw = new FirewallReconciler({ netns: host });
  });
  afterAll(() => {
    for (const p of procs) p.kill('SIGKILL');
    netns.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a DHCP server in a VM is not heard; the host server still is', async () => {
    const conf = join(dir, 'udhcpd.conf');
    writeFileSync(conf, `start 10.3.0.200\nend 10.3.0.210\ninterface eth0\nlease_file ${dir}/udhcpd.leases\npidfile ${dir}/udhcpd.pid\nopt router 10.3.0.5\n`);
    writeFileSync(join(dir, 'udhcpd.leases'), '');
    procs.push(background(rogue.ns, 'busybox', ['udhcpd', '-f', conf]));
    // Control: without plumb's rules the rogue hands out its addresses.
    let control: string | undefined;
    await waitFor(() => (control = dhcpLease(client)) !== undefined, 10_000);
    expect(control).toMatch(/^10\.3\.0\.2(0\d|10)$/);

    await fw.reconcile(state());
    const before = counter(host, 'bridge', 'rogue_dhcp4');
    expect(dhcpLease(client)).toBeUndefined();
    expect(counter(host, 'bridge', 'rogue_dhcp4')).toBeGreaterThan(before);

    procs.push(
      background(host, 'dnsmasq', [
        '-k', '--conf-file=/dev/null', '--port=0', '--user=root', '--interface=br0', '--bind-interfaces',
        '--dhcp-range=10.3.0.100,10.3.0.150,1h', `--dhcp-host=${client.mac},10.3.0.120`,
        `--dhcp-leasefile=${dir}/dnsmasq.leases`, `--pid-file=${dir}/dnsmasq.pid`,
      ]),
    );
    let lease: string | undefined;
    await waitFor(() => (lease = dhcpLease(client)) !== undefined, 10_000);
    expect(lease).toBe('10.3.0.120');
  });

  it('Router Advertisements from a VM are not heard', async () => {
    await fw.remove();
    procs.push(
      background(rogue.ns, 'dnsmasq', [
        '-k', '--conf-file=/dev/null', '--port=0', '--user=root', '--interface=eth0', '--bind-interfaces',
        '--enable-ra', '--dhcp-range=2001:db8:66::,ra-only', `--pid-file=${dir}/dnsmasq-ra.pid`,
      ]),
    );
    const solicit = async (): Promise<void> => {
      ipIn(client.ns, 'link', 'set', 'eth0', 'down');
      ipIn(client.ns, 'link', 'set', 'eth0', 'up'); // the kernel sends Router Solicitations
      await sleep(100);
    };
    // Control: without plumb's rules the client takes the rogue as its default router.
    await solicit();
    expect(await waitFor(() => hasRaDefaultRoute(client), 10_000)).toBe(true);

    await fw.reconcile(state());
    ipIn(client.ns, '-6', 'route', 'flush', 'proto', 'ra');
    const before = counter(host, 'bridge', 'rogue_router');
    await solicit();
    expect(await waitFor(() => counter(host, 'bridge', 'rogue_router') > before, 10_000)).toBe(true);
    await sleep(1000);
    expect(hasRaDefaultRoute(client)).toBe(false);
  });
});
