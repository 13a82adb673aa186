// libvirt domains on plumb ports, with Debian's libvirtd and QEMU (TCG) booting Debian's stock
// kernel: the <interface type='ethernet'> of docs/hypervisors.md on a tap the agent made
// (managed='no') and on a tap libvirt made itself (adopted by plumb), addresses by plumb's DHCP.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureKernel } from '../../src/qemu/kernel.js';
import { ensureInitramfs } from '../../src/qemu/initramfs.js';
import { domainXml } from '../../src/qemu/libvirt-domain.js';
import { withLock } from '../../src/qemu/lock.js';
import { cacheDir } from '../../src/qemu/paths.js';
import { ALICE } from '../controller/fixture.js';
import { QUEUED_GUEST_TEST_TIMEOUT_MS } from '../helpers/guest-queue.js';
import { ipIn } from '../helpers/netns.js';
import { link, ping } from '../helpers/topology.js';
import { until } from '../helpers/until.js';
import { HypervisorLab, libvirt } from './hosts.js';

let lab: HypervisorLab | undefined;
afterAll(async () => lab?.close());

type Port = { id: string; mac_address: string; status: string; status_reason: string | null; fixed_ips: { ip_address: string }[] };

describe('libvirt domains on plumb ports (real libvirtd, QEMU TCG, stock Debian kernel)', () => {
  it(
    "boots on the agent's tap (managed='no') and on a tap libvirt made (adopted), with addresses from plumb's DHCP",
    async () => {
      await withLock(join(cacheDir, 'guests.lock'), async () => {
        const kernel = ensureKernel();
        const initrd = await ensureInitramfs(kernel, 'standalone');
        lab = await HypervisorLab.start(['hv1']);
        const { nova, alice } = lab;
        const hv1 = lab.host('hv1');
        const net = (await alice('POST', '/v2.0/networks', { network: { name: 'lv-net' } })).body.network.id as string;
        const pub = (await alice('GET', '/v2.0/networks')).body.networks.find((n: { name: string }) => n.name === 'public').id as string;
        const mk = async (network: string, profile: object): Promise<Port> =>
          (await nova('POST', '/v2.0/ports', { port: { network_id: network, project_id: ALICE, device_id: 'vm1', 'binding:host_id': 'hv1', 'binding:profile': profile } })).body.port as Port;
        const priv = await mk(net, {});
        const publ = await mk(pub, { ifname: 'lvpub-vm1', adopt: true });
        const get = async (p: Port): Promise<Port> => (await nova('GET', `/v2.0/ports/${p.id}`)).body.port as Port;
        await until(async () => ((await get(priv)).status === 'ACTIVE' ? true : undefined), 20_000, 50);
        // libvirt has not made its tap yet: the port waits for it, DOWN, not ERROR
        const waiting = await until(async () => {
          const p = await get(publ);
          return p.status === 'DOWN' ? p : undefined;
        }, 20_000, 50);
        expect(waiting.status_reason).toBe("waiting for the VM manager to create tap 'lvpub-vm1'");
        const plumbTap = `tap${priv.id}`;
        expect(link(hv1.netns, plumbTap)?.ifalias).toBe(`plumb:port:${priv.id}`);

        const consoleLog = join(lab.dir, 'vm1.console');
        const xml = join(lab.dir, 'vm1.xml');
        writeFileSync(
          xml,
          domainXml({
            name: 'vm1',
            vmlinuz: kernel.vmlinuz,
            initrd,
            consoleLog,
            nics: [
              { mac: priv.mac_address, tap: plumbTap, plumbMadeTap: true },
              { mac: publ.mac_address, tap: 'lvpub-vm1', plumbMadeTap: false },
            ],
          }),
        );
        const started = performance.now();
        await libvirt(hv1).virsh(['create', xml]);
        const console = (): string => (existsSync(consoleLog) ? readFileSync(consoleLog, 'utf8') : '');
        const privIp = priv.fixed_ips[0]?.ip_address ?? '';
        const pubIp = publ.fixed_ips[0]?.ip_address ?? '';
        try {
          await until(() => (console().includes(`bound ${privIp}/24`) && console().includes(`bound ${pubIp}/24`) ? true : undefined), 90_000, 100);
        } catch (err) {
          const agentLog = hv1.log.lines.filter((l) => l.level !== 20).slice(-30).map((l) => JSON.stringify(l)).join('\n');
          throw new Error(`no leases for ${privIp} and ${pubIp}: ${String(err)}\nconsole:\n${console()}\nagent:\n${agentLog}\nports: ${JSON.stringify([await get(priv), await get(publ)])}`);
        }
        console_log(`[libvirt] domain created to both leases: ${Math.round(performance.now() - started)} ms`);
        expect(console()).toMatch(new RegExp(`PLUMB-GUEST-LEASE eth1 bound ${pubIp.replace(/\./g, '\\.')}/24 router=198\\.51\\.100\\.1`));
        // libvirt made lvpub-vm1; plumb adopted it into the public port and routes it
        expect(link(hv1.netns, 'lvpub-vm1')?.ifalias).toBe(`plumb:adopted:${publ.id}`);
        await until(async () => ((await get(publ)).status === 'ACTIVE' ? true : undefined), 20_000, 50);
        expect(ipIn(hv1.netns, 'route', 'show', pubIp)).toMatch(/dev lvpub-vm1/);
        expect(ping(lab.upstream, pubIp, 3, 5), 'the upstream router reaches the VM through the adopted tap').toBe(true);

        // the domain stops: libvirt deletes its own tap, keeps plumb's; the public port waits again
        await libvirt(hv1).virsh(['destroy', 'vm1']);
        await until(() => (link(hv1.netns, 'lvpub-vm1') === undefined ? true : undefined), 20_000, 50);
        expect(link(hv1.netns, plumbTap)?.ifalias).toBe(`plumb:port:${priv.id}`);
        await until(async () => ((await get(publ)).status === 'DOWN' ? true : undefined), 20_000, 50);
        expect(ipIn(hv1.netns, 'route', 'show', pubIp)).toBe('');
      });
    },
    QUEUED_GUEST_TEST_TIMEOUT_MS,
  );
});

function console_log(line: string): void {
  process.stdout.write(`${line}\n`);
}
