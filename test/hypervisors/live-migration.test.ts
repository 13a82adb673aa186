// The live-migration drill: a libvirt domain (TCG, stock Debian kernel) with a NIC on a VXLAN
// network (on plumb's tap, managed='no') and one on the routed public network (on a tap libvirt
// makes on each host, adopted by plumb) migrates from hv1 to hv2, each host a namespace
// with plumb's agent and its own libvirtd, while a client on the private network and the
// upstream router ping it every 20 ms. The ordering Nova follows with Neutron: the ports stand by
// on hv2 (binding:profile.migrating_to) until hv2 reports their taps ready, libvirt migrates,
// then the host change moves them (hv2 announces, hv1 removes). Checked: the destination tap
// existed before the switch and the source went after it, a gratuitous ARP (the agent's, to the
// upstream) and the VM's own announcement on arrival, at most 1 s of lost pings per network, and
// at no moment two hosts routing the VM's address or two DHCP answers to one request.
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
import { link } from '../helpers/topology.js';
import { until } from '../helpers/until.js';
import { HypervisorLab, libvirt } from './hosts.js';
import { Observer, dhcpRepliesByHost, overlapMs, pingStats, routeIntervals, routesTo } from './observers.js';

let lab: HypervisorLab | undefined;
afterAll(async () => lab?.close());

type Port = { id: string; mac_address: string; status: string; fixed_ips: { ip_address: string }[]; 'binding:migration': { host: string; status: string } | null };
const PING_INTERVAL_MS = 20;

describe('live migration of a libvirt domain between two plumb hosts', () => {
  it(
    'keeps both networks reachable (at most 1 s lost), never routes or answers the VM from two hosts',
    async () => {
      await withLock(join(cacheDir, 'guests.lock'), async () => {
        const kernel = ensureKernel();
        const initrd = await ensureInitramfs(kernel, 'standalone');
        lab = await HypervisorLab.start(['hv1', 'hv2']);
        const { nova, alice } = lab;
        const hv1 = lab.host('hv1');
        const hv2 = lab.host('hv2');
        const net = (await alice('POST', '/v2.0/networks', { network: { name: 'mig-net' } })).body.network.id as string;
        const pubNet = await lab.publicNetwork();
        const mk = async (network: string, device: string, host: string, profile: object = {}): Promise<Port> =>
          (await nova('POST', '/v2.0/ports', { port: { network_id: network, project_id: ALICE, device_id: device, 'binding:host_id': host, 'binding:profile': profile } })).body.port as Port;
        const get = async (p: Port): Promise<Port> => (await nova('GET', `/v2.0/ports/${p.id}`)).body.port as Port;
        const priv = await mk(net, 'mig', 'hv1');
        const pubProfile = { ifname: 'lvpub-mig', adopt: true };
        const pub = await mk(pubNet, 'mig', 'hv1', pubProfile);
        // a profile is replaced whole: migrating_to goes with the rest of it, as Nova sends it
        const profileOf = (p: Port): object => (p === pub ? pubProfile : {});
        // a client that stays put, on the private network on hv1
        await lab.plugClient(net, 'hv1');
        await until(async () => ((await get(priv)).status === 'ACTIVE' ? true : undefined), 30_000, 50);
        const privIp = priv.fixed_ips[0]?.ip_address ?? '';
        const pubIp = pub.fixed_ips[0]?.ip_address ?? '';

        const consoleLog = join(lab.dir, 'mig.console');
        const xml = join(lab.dir, 'mig.xml');
        const nics = [
          { mac: priv.mac_address, tap: `tap${priv.id}`, plumbMadeTap: true },
          { mac: pub.mac_address, tap: 'lvpub-mig', plumbMadeTap: false },
        ];
        writeFileSync(xml, domainXml({ name: 'mig', vmlinuz: kernel.vmlinuz, initrd, consoleLog, nics, cmdline: 'plumb_dhcp_probe=eth0' }));
        await libvirt(hv1).virsh(['create', xml]);
        const consoleText = (): string => (existsSync(consoleLog) ? readFileSync(consoleLog, 'utf8') : '');
        await until(() => (consoleText().includes(`bound ${privIp}/24`) && consoleText().includes(`bound ${pubIp}/24`) ? true : undefined), 90_000, 100).catch((err: unknown) => {
          throw new Error(`guest got no leases: ${String(err)}\n${consoleText()}`);
        });

        await until(async () => ((await get(pub)).status === 'ACTIVE' ? true : undefined), 30_000, 50);

        // observers: pings from both sides, route changes on both hosts, DHCP replies and (R)ARP
        const routes0 = { hv1: routesTo(hv1.netns, pubIp), hv2: routesTo(hv2.netns, pubIp) };
        const monitors = { hv1: new Observer(hv1.netns, 'ip', ['-ts', 'monitor', 'route', 'link']), hv2: new Observer(hv2.netns, 'ip', ['-ts', 'monitor', 'route', 'link']) };
        const dumps = {
          hv1: new Observer(hv1.netns, 'tcpdump', ['-l', '-tt', '-n', '-v', '-i', 'any', 'udp src port 67']),
          hv2: new Observer(hv2.netns, 'tcpdump', ['-l', '-tt', '-n', '-v', '-i', 'any', 'udp src port 67']),
        };
        const arp = new Observer(hv2.netns, 'tcpdump', ['-l', '-tt', '-n', '-e', '-i', 'any', 'arp or rarp']);
        await new Promise((r) => setTimeout(r, 1_000)); // tcpdump and the monitors are listening
        const pingPub = new Observer(lab.upstream, 'ping', ['-n', '-D', '-i', String(PING_INTERVAL_MS / 1000), pubIp]);
        const pingPriv = new Observer(lab.client, 'ping', ['-n', '-D', '-i', String(PING_INTERVAL_MS / 1000), privIp]);
        await until(() => (pingStats(pingPub.lines).replies.size > 10 && pingStats(pingPriv.lines).replies.size > 10 ? true : undefined), 15_000, 50);

        // 1. the ports stand by on hv2; libvirt may migrate once hv2 reports both taps ready
        const t0 = Date.now();
        for (const p of [priv, pub]) await nova('PUT', `/v2.0/ports/${p.id}`, { port: { 'binding:profile': { ...profileOf(p), migrating_to: 'hv2' } } });
        await until(async () => ((await get(priv))['binding:migration']?.status === 'ACTIVE' ? true : undefined), 30_000, 20);
        // libvirt makes its tap on hv2 only when the incoming domain starts: until then, waiting
        await until(async () => ((await get(pub))['binding:migration']?.status === 'DOWN' ? true : undefined), 30_000, 20);
        const t1 = Date.now();
        expect(link(hv2.netns, `tap${priv.id}`), "plumb's tap on hv2 before the migration").toBeDefined();
        expect(ipIn(hv2.netns, 'route', 'show', 'table', 'all', pubIp), 'no route on the standby host').toBe('');

        // 2. libvirt live-migrates the domain (the migration stream crosses the underlay link); the
        // VM manager moves the ports on the destination's "resumed" event, not when the migration
        // call returns (libvirt's finish and confirm steps take a while longer)
        const events = new Observer(hv2.netns, 'virsh', ['-c', libvirt(hv2).uri, 'event', '--event', 'lifecycle', '--loop']);
        await new Promise((r) => setTimeout(r, 300));
        const migration = libvirt(hv1).virsh(['migrate', '--live', 'mig', libvirt(hv2).uri, '--migrateuri', `tcp://${hv2.underlay}:49152`]);
        await until(() => (events.lines.some((l) => /'mig'.*Resumed/.test(l)) ? true : undefined), 120_000, 5);
        const t2 = Date.now();
        expect(link(hv1.netns, `tap${priv.id}`), "plumb's tap still on hv1 at the switch").toBeDefined();
        // libvirt's tap on hv2 appeared with the incoming domain and was adopted, standing by
        expect(link(hv2.netns, 'lvpub-mig')?.ifalias, "libvirt's tap on hv2 adopted before the switch").toBe(`plumb:adopted:${pub.id}`);
        expect((await get(pub))['binding:migration']?.status).toBe('ACTIVE');

        // 3. the switch: the ports move to hv2 for good
        await Promise.all([priv, pub].map((p) => nova('PUT', `/v2.0/ports/${p.id}`, { port: { 'binding:host_id': 'hv2', 'binding:profile': profileOf(p) } })));
        const t3 = Date.now();
        const activeOnHv2 = Promise.all([priv, pub].map((p) => until(async () => ((await get(p)).status === 'ACTIVE' ? true : undefined), 30_000, 20))).then(() => Date.now());
        await migration;
        const tMigrated = Date.now();
        await events.stop();
        expect((await libvirt(hv2).virsh(['domstate', 'mig'])).trim()).toBe('running');
        const t4 = await activeOnHv2;
        await until(() => (nics.every((n) => link(hv1.netns, n.tap) === undefined) ? true : undefined), 15_000, 20);
        await new Promise((r) => setTimeout(r, 2_000)); // traffic settles on hv2
        const tEnd = Date.now();
        for (const o of [pingPub, pingPriv, monitors.hv1, monitors.hv2, dumps.hv1, dumps.hv2, arp]) await o.stop();

        const pubStats = pingStats(pingPub.lines);
        const privStats = pingStats(pingPriv.lines);
        const firstReplyAfter = (s: typeof pubStats, t: number): number | null => {
          const after = [...s.replies.values()].filter((at) => at >= t);
          return after.length ? Math.min(...after) : null;
        };
        const pubBack = firstReplyAfter(pubStats, t2);
        const r1 = routeIntervals(monitors.hv1.lines, pubIp, routes0.hv1, tEnd);
        const r2 = routeIntervals(monitors.hv2.lines, pubIp, routes0.hv2, tEnd);
        const { replies, answeredByTwo } = dhcpRepliesByHost(dumps);
        const garp = arp.lines.find((l) => l.includes('up0') && new RegExp(`Request who-has ${pubIp.replace(/\./g, '\\.')} tell ${pubIp.replace(/\./g, '\\.')}`).test(l));
        const vmAnnounce = arp.lines.find((l) => l.includes(priv.mac_address) && /Reverse Request|RARP|Request who-has/.test(l));
        const report = {
          standbyReadyMs: t1 - t0,
          resumedMs: t2 - t1,
          migrateCallMs: tMigrated - t1,
          lastPublicReplyBeforeSwitchMs: Math.max(...[...pubStats.replies.values()].filter((at) => at < t2)) - t2,
          switchApiMs: t3 - t2,
          portsActiveOnHv2Ms: t4 - t2,
          publicTrafficOnHv2AfterSwitchMs: pubBack === null ? null : pubBack - t2,
          lostPings: { public: pubStats.lost, private: privStats.lost },
          lostMs: { public: pubStats.longestGap * PING_INTERVAL_MS, private: privStats.longestGap * PING_INTERVAL_MS },
          routeOverlapMs: overlapMs(r1, r2),
          dhcpReplies: { hv1: replies.filter((r) => r.host === 'hv1').length, hv2: replies.filter((r) => r.host === 'hv2').length },
        };
        process.stdout.write(`[live-migration] ${JSON.stringify(report)}\n`);

        // the ordering: hv2 ready before the switch (checked above), hv1 removed after it
        expect(r2.every(([from]) => from >= t2), 'hv2 routes the VM only after the switch').toBe(true);
        expect(r1.at(-1)?.[1] ?? 0, 'hv1 stops routing the VM after the switch').toBeGreaterThanOrEqual(t2);
        expect(report.routeOverlapMs, `two hosts routed ${pubIp} at once: hv1 ${JSON.stringify(r1)} hv2 ${JSON.stringify(r2)}`).toBe(0);
        expect(answeredByTwo, 'a DHCP request answered by two hosts').toEqual([]);
        expect(report.dhcpReplies.hv1, 'hv1 answered the probe before the migration').toBeGreaterThan(0);
        expect(report.dhcpReplies.hv2, 'hv2 answers the probe after the switch').toBeGreaterThan(0);
        expect(replies.filter((r) => r.host === 'hv2' && r.at < t2), 'the standby host answered DHCP').toEqual([]);
        expect(garp, `a gratuitous ARP for ${pubIp} from hv2's uplink; seen:\n${arp.lines.slice(-20).join('\n')}`).toBeDefined();
        expect(vmAnnounce, `the VM announced itself on hv2; seen:\n${arp.lines.slice(-20).join('\n')}`).toBeDefined();
        expect(report.lostMs.public, 'public network: at most 1 s of lost pings').toBeLessThanOrEqual(1_000);
        expect(report.lostMs.private, 'private network: at most 1 s of lost pings').toBeLessThanOrEqual(1_000);
        expect((await libvirt(hv2).virsh(['domstate', 'mig'])).trim()).toBe('running');
      });
    },
    QUEUED_GUEST_TEST_TIMEOUT_MS,
  );
});
