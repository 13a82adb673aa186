// A real single-node Ganeti 3.0 cluster (Debian 12's `ganeti`) on a plumb host: gnt-cluster
// init, its daemons, gnt-instance add/start/stop/remove of a KVM instance (TCG, Debian's stock
// kernel, the standalone initramfs) whose two NICs have plumb ports' MACs. Ganeti opens the taps
// and runs its kvm-ifup, which runs the shipped /etc/ganeti/kvm-vif-bridge, which runs
// `plumb hook ganeti-ifup`: the agent adopts the taps, and the instance takes its addresses from
// plumb's DHCP. A NIC whose MAC plumb does not know fails the instance's start, with plumb's words.
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { GanetiCluster } from '../../src/qemu/ganeti-node.js';
import { ensureKernel } from '../../src/qemu/kernel.js';
import { ensureInitramfs } from '../../src/qemu/initramfs.js';
import { withLock } from '../../src/qemu/lock.js';
import { cacheDir } from '../../src/qemu/paths.js';
import { ALICE } from '../controller/fixture.js';
import { QUEUED_GUEST_TEST_TIMEOUT_MS } from '../helpers/guest-queue.js';
import { ipIn } from '../helpers/netns.js';
import { link, ping } from '../helpers/topology.js';
import { until } from '../helpers/until.js';
import { SerialConsole, ganetiOnLab, instanceAdd } from './ganeti.js';
import { HypervisorLab } from './hosts.js';

let lab: HypervisorLab | undefined;
let cluster: GanetiCluster | undefined;
afterAll(async () => {
  cluster?.stop();
  await lab?.close();
});

type Port = { id: string; mac_address: string; status: string; status_reason: string | null; fixed_ips: { ip_address: string }[]; 'binding:host_id': string; 'binding:profile': object };

describe('a real Ganeti 3.0 cluster on plumb ports', () => {
  it(
    "starts an instance whose taps Ganeti opens and plumb adopts; the guest gets plumb's addresses; an unknown MAC fails the start",
    async () => {
      await withLock(join(cacheDir, 'guests.lock'), async () => {
        const kernel = ensureKernel();
        const initrd = await ensureInitramfs(kernel, 'standalone');
        lab = await HypervisorLab.start(['node1'], { libvirt: false });
        const { nova, alice } = lab;
        const host = lab.host('node1');

        const started = performance.now();
        cluster = await ganetiOnLab(lab);
        const node = cluster.master;
        log(`[ganeti] gnt-cluster init and daemons: ${Math.round(performance.now() - started)} ms`);
        expect(await node.gnt(['gnt-cluster', 'getmaster'])).toBe('node1.plumb.test\n');

        const net = (await alice('POST', '/v2.0/networks', { network: { name: 'gnt-net' } })).body.network.id as string;
        const pubNet = await lab.publicNetwork();
        const mk = async (network: string, device: string, extra: object = {}): Promise<Port> =>
          (await nova('POST', '/v2.0/ports', { port: { network_id: network, project_id: ALICE, device_id: device, ...extra } })).body.port as Port;
        const get = async (p: Port): Promise<Port> => (await nova('GET', `/v2.0/ports/${p.id}`)).body.port as Port;
        const priv = await mk(net, 'inst1');
        const pub = await mk(pubNet, 'inst1');
        await lab.plugClient(net, 'node1');
        const privIp = priv.fixed_ips[0]?.ip_address ?? '';
        const pubIp = pub.fixed_ips[0]?.ip_address ?? '';

        // docs/hypervisors.md: NICs in routed mode (Ganeti wants their IP; it runs the NIC script
        // on a migration's destination only once the migration succeeded), link ignored by plumb
        await node.gnt(instanceAdd('inst1.plumb.test', 'node1.plumb.test', kernel, initrd, [{ mac: priv.mac_address, ip: privIp }, { mac: pub.mac_address, ip: pubIp }]));
        const startedInstance = performance.now();
        try {
          await node.gnt(['gnt-instance', 'start', 'inst1.plumb.test']);
        } catch (err) {
          throw new Error(`${String(err)}\nnode daemon:\n${node.logTail('node-daemon.log')}\nagent:\n${lab.agentTail()}`);
        }
        log(`[ganeti] gnt-instance start (both NIC hooks, each waiting for ACTIVE): ${Math.round(performance.now() - startedInstance)} ms`);
        const serial = new SerialConsole(node.serialSocket('inst1.plumb.test'));
        try {
          // Ganeti opened tap0 and tap1 (kernel-named), plumb adopted both into the ports with those MACs
          for (const [tap, p] of [['tap0', priv], ['tap1', pub]] as const) {
            expect(link(host.netns, tap)?.ifalias, `${tap} adopted`).toBe(`plumb:adopted:${p.id}`);
            expect(await get(p)).toMatchObject({ status: 'ACTIVE', 'binding:host_id': 'node1', 'binding:profile': { ifname: tap, adopt: true } });
          }
          try {
            await until(() => (ping(lab?.client ?? '', privIp, 1, 1) && ping(lab?.upstream ?? '', pubIp, 1, 1) ? true : undefined), 90_000, 200);
          } catch (err) {
            throw new Error(`the instance is not reachable at ${privIp} and ${pubIp}: ${String(err)}\nconsole:\n${serial.text}\nkvm log:\n${node.logTail('kvm/inst1.plumb.test.log')}`);
          }
          log(`[ganeti] instance start to both addresses answering: ${Math.round(performance.now() - startedInstance)} ms`);
          // the addresses came from plumb's DHCP (the guest configures only what a lease gives it)
          expect(serial.text).toMatch(new RegExp(`PLUMB-GUEST-LEASE eth0 bound ${privIp.replace(/\./g, '\\.')}/24`));
          expect(serial.text).toMatch(new RegExp(`PLUMB-GUEST-LEASE eth1 bound ${pubIp.replace(/\./g, '\\.')}/24 router=198\\.51\\.100\\.1`));
          expect(ipIn(host.netns, 'route', 'show', pubIp)).toMatch(/dev tap1/);
        } finally {
          serial.close();
        }

        // the instance stops: Ganeti's taps close, plumb's ports wait for them, DOWN
        await node.gnt(['gnt-instance', 'shutdown', '--timeout=0', 'inst1.plumb.test']);
        for (const p of [priv, pub]) await until(async () => ((await get(p)).status === 'DOWN' ? true : undefined), 20_000, 50);
        expect((await get(pub)).status_reason).toBe("waiting for the VM manager to create tap 'tap1'");
        expect(ipIn(host.netns, 'route', 'show', pubIp)).toBe('');
        // and starts again: new taps, the hook binds the ports to them, reachable again
        await node.gnt(['gnt-instance', 'start', 'inst1.plumb.test']);
        for (const p of [priv, pub]) expect((await get(p)).status).toBe('ACTIVE');
        await until(() => (ping(lab?.upstream ?? '', pubIp, 1, 1) ? true : undefined), 90_000, 200);

        // a NIC with a MAC plumb does not know: the hook fails it and Ganeti refuses to start the instance
        await node.gnt(instanceAdd('ghost.plumb.test', 'node1.plumb.test', kernel, initrd, [{ mac: 'aa:00:00:de:ad:02', ip: '192.0.2.77' }]));
        const refused = await node.gnt(['gnt-instance', 'start', 'ghost.plumb.test']).then(
          () => 'started',
          (err: Error) => err.message,
        );
        expect(refused).toContain('plumb: plumb knows no port with MAC aa:00:00:de:ad:02 (instance ghost.plumb.test NIC 0 on tap');
        expect(await node.gnt(['gnt-instance', 'list', '--no-headers', '-o', 'name,oper_state'])).toMatch(/ghost\.plumb\.test\s+N/);

        await node.gnt(['gnt-instance', 'remove', '-f', '--shutdown-timeout=0', 'inst1.plumb.test']);
        await node.gnt(['gnt-instance', 'remove', '-f', 'ghost.plumb.test']);
        for (const p of [priv, pub]) await until(async () => ((await get(p)).status === 'DOWN' ? true : undefined), 20_000, 50);
      });
    },
    QUEUED_GUEST_TEST_TIMEOUT_MS,
  );
});

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}
