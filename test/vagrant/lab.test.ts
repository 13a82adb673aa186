// The Vagrant multi-node lab booted for real: the box built here from Debian packages
// (scripts/vagrant/build-box.sh), libvirtd in a namespace of its own (scripts/vagrant/libvirt-netns.sh),
// `vagrant up` of controller, hv1 and hv2 with vagrant-libvirt on QEMU, provisioned by the shipped
// scripts/vagrant/*.sh, plumb under the real systemd of each node. The seeds' walkthrough is then run
// with the plumb CLI on the controller node, VMs being namespaces vm-<device> on hv1 and hv2, and
// checked from outside the nodes (ssh into them, and pings from the libvirt namespace, which plays
// the public network's upstream router). Every packet stays inside that namespace: it has no
// uplink and the lab's libvirt networks forward nowhere.
//
// Not skippable: where the box or the lab cannot be built, this fails and says why.
import { describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { withLock } from '../../src/qemu/lock.js';
import { cacheDir } from '../../src/qemu/paths.js';
import { until as untilValue } from '../helpers/until.js';

const execFileAsync = promisify(execFile);
const repo = new URL('../..', import.meta.url).pathname;
const NS = 'plumb-vgtest';
const work = join(repo, '.cache', 'vagrant-test');
const sshConfig = join(work, 'ssh-config');
const env = {
  ...process.env,
  PLUMB_VAGRANT_NETNS: NS,
  VAGRANT_HOME: join(repo, '.cache', 'vagrant-home'),
  VAGRANT_DOTFILE_PATH: join(work, 'dot-vagrant'),
  VAGRANT_CHECKPOINT_DISABLE: '1',
  PLUMB_VAGRANT_PREFIX: 'plumbtest_',
  // /dev/kvm exists on these machines but nested KVM hangs (NOTES.md): TCG
  PLUMB_LIBVIRT_DRIVER: process.env.PLUMB_LIBVIRT_DRIVER ?? 'qemu',
};
const log = (s: string): void => void process.stderr.write(`[vagrant] ${s}\n`);
const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

async function sh(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  try {
    return (await execFileAsync(cmd, args, { encoding: 'utf8', env, cwd: repo, timeout: timeoutMs, maxBuffer: 64 << 20 })).stdout;
  } catch (err) {
    const e = err as { code?: number; signal?: string; stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed (${String(e.code ?? e.signal)}):\n${(e.stderr ?? '').slice(-4000)}${(e.stdout ?? '').slice(-4000)}`);
  }
}
const inNs = (args: string[], timeoutMs: number): Promise<string> => sh('ip', ['netns', 'exec', NS, ...args], timeoutMs);
const virsh = (...args: string[]): Promise<string> => sh('virsh', ['-q', '-c', 'qemu:///system', ...args], 60_000);
/** A shell script on a node, as user vagrant (sudo inside), over the ssh config vagrant printed. */
const node = (name: string, script: string, timeoutMs = 120_000): Promise<string> =>
  inNs(['ssh', '-F', sshConfig, '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=20', name, script], timeoutMs);
const CLI = 'export PLUMB_URL=http://127.0.0.1:9696 PLUMB_USER=admin PLUMB_PASSWORD=admin-password;';
const plumb = (args: string): Promise<string> => node('controller', `${CLI} plumb ${args}`, 180_000);

/** `vagrant ARGS` in the namespace, streaming; the first and last output line of each machine timed. */
function vagrant(args: string[], timeoutMs: number): Promise<{ out: string; perMachine: Map<string, number> }> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', NS, 'vagrant', ...args], { env, cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
    const first = new Map<string, number>();
    const last = new Map<string, number>();
    let out = '';
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    const take = (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      out += text;
      for (const m of text.matchAll(/^(?:==> )?\s*(controller|hv1|hv2):/gm)) {
        const name = m[1] as string;
        if (!first.has(name)) first.set(name, Date.now());
        last.set(name, Date.now());
      }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const perMachine = new Map([...first].map(([n, t]) => [n, (last.get(n) ?? t) - t]));
      const clean = out.replace(/\x1b\[K|Progress: \d+%/g, '');
      const logFile = join(work, `vagrant-${args.join('-')}.log`);
      writeFileSync(logFile, clean);
      if (code === 0) return resolve({ out: clean, perMachine });
      // vagrant ends a failure with a Ruby backtrace: name the lines that say what went wrong
      const said = clean.split('\n').filter((l) => !/^\s*(from )?\/usr\/(share|lib)\//.test(l) && /error|fail|refused|denied|cannot|could not|undefined/i.test(l));
      reject(new Error(`vagrant ${args.join(' ')} failed (${String(code ?? signal)}); full output in ${logFile}:\n${said.slice(-30).join('\n')}`));
    });
  });
}

/** test/helpers/until.ts, with errors of `get` counted as "not yet" and the wait named when it fails. */
async function until<T>(what: string, get: () => Promise<T | undefined>, ms: number, everyMs = 2000): Promise<T> {
  let lastErr: unknown;
  try {
    return await untilValue(() => get().catch((err: unknown) => void (lastErr = err)), ms, everyMs);
  } catch {
    throw new Error(`${what}: not reached within ${secs(ms)}${lastErr ? ` (last error: ${String(lastErr)})` : ''}`);
  }
}

interface Port {
  id: string;
  fixed_ips: { ip_address: string }[];
  status: string;
}
const DHCP = '-n -q -t 10 -T 1 -s /opt/plumb/scripts/lab/udhcpc.sh';
/** Make VM namespaces on a hypervisor (as a VM manager starts its VMs). */
const makeVms = (host: string, vms: string[]): Promise<string> =>
  node(host, vms.map((v) => `sudo ip netns add vm-${v} 2>/dev/null; sudo ip -n vm-${v} link set lo up`).join('; '));
/** The VM's eth0 address by DHCP from plumb's responder on its host, once its NIC is there. */
async function dhcp(host: string, vm: string): Promise<string> {
  return until(
    `VM ${vm} on ${host} gets its address by DHCP`,
    async () => {
      const out = await node(host, `sudo ip -n vm-${vm} link set eth0 up && sudo timeout 30 ip netns exec vm-${vm} busybox udhcpc -i eth0 ${DHCP} >/dev/null 2>&1; sudo ip -n vm-${vm} -4 -o addr show dev eth0`);
      return /inet (\d+\.\d+\.\d+\.\d+)\//.exec(out)?.[1];
    },
    180_000,
    3000,
  );
}
const pingFromVm = async (host: string, vm: string, to: string): Promise<boolean> =>
  /, 0% packet loss/.test(await node(host, `sudo ip netns exec vm-${vm} ping -c 3 -i 0.3 -W 2 ${to} || true`));
const pingFromOutside = async (to: string): Promise<boolean> => /, 0% packet loss/.test(await inNs(['sh', '-c', `ping -c 3 -i 0.3 -W 2 ${to} || true`], 30_000));

async function createPort(network: string, device: string, host: string): Promise<Port> {
  const out = await plumb(`port create --network-id ${network} --device-id ${device} --host ${host} --wait --json`);
  return JSON.parse(out.slice(out.indexOf('{'))) as Port;
}
async function createNetwork(name: string, type: string): Promise<{ id: string; 'provider:segmentation_id': number }> {
  const out = await plumb(`network create --name ${name} --type ${type} --json`);
  return JSON.parse(out.slice(out.indexOf('{'))) as { id: string; 'provider:segmentation_id': number };
}

/** What libvirt holds of this lab: domains, networks and volumes named after it. */
async function leftovers(): Promise<string[]> {
  const doms = (await virsh('list', '--all', '--name')).split('\n').filter((l) => l.startsWith('plumbtest_'));
  const nets = (await virsh('net-list', '--all', '--name')).split('\n').filter((l) => /^(plumb-(mgmt|trunk|public)|vagrant-libvirt)$/.test(l.trim()));
  const vols = (await virsh('vol-list', 'default')).split('\n').filter((l) => /plumbtest_|plumb-local-VAGRANTSLASH/.test(l));
  return [...doms, ...nets, ...vols].map((l) => l.trim()).filter(Boolean);
}

describe('the Vagrant lab on libvirt (QEMU), from the box built here', () => {
  it('boots controller, hv1 and hv2 with plumb under systemd, runs the seeds walkthrough, survives a node reboot, and leaves nothing behind', async () => {
    await withLock(join(cacheDir, 'guests.lock'), async () => {
      mkdirSync(work, { recursive: true });
      const figures: string[] = [];
      let libvirtStarted = false;
      try {
        // the box: built once, then reused while its inputs stay the same
        let t = Date.now();
        const box = (await sh('bash', ['scripts/vagrant/build-box.sh'], 1_800_000)).trim().split('\n').pop() as string;
        figures.push(`box ${box.replace(repo, '')} ready in ${secs(Date.now() - t)}`);
        Object.assign(env, { PLUMB_BOX: box });

        await sh('bash', ['scripts/vagrant/libvirt-netns.sh', 'start'], 60_000);
        libvirtStarted = true;
        // a previous run killed half way: start from nothing
        await vagrant(['destroy', '-f'], 600_000).catch(() => undefined);
        await removeBoxVolume();

        // the controller first: it creates the lab's libvirt networks, which machines coming up in
        // parallel would race to create; then both hypervisors in parallel
        t = Date.now();
        const upController = await vagrant(['up', 'controller'], 1_200_000);
        const tHv = Date.now();
        const upHvs = await vagrant(['up', 'hv1', 'hv2'], 1_800_000);
        figures.push(
          `vagrant up: ${secs(Date.now() - t)} in all (TCG); controller ${secs(tHv - t)}, then hv1 and hv2 in parallel ${secs(Date.now() - tHv)} (${[...upController.perMachine, ...upHvs.perMachine].map(([n, ms]) => `${n} ${secs(ms)}`).join(', ')} from its first line to its last)`,
        );
        writeFileSync(sshConfig, (await vagrant(['ssh-config'], 120_000)).out);

        // --- plumb under real systemd ---------------------------------------------------------------
        const ctl = await node('controller', 'systemctl is-active nats-server plumb-controller; systemctl show plumb-controller -p Type -p User -p NRestarts -p WatchdogUSec -p CapabilityBoundingSet; systemctl is-enabled nats-server plumb-controller');
        expect(ctl).toMatch(/^active\nactive\n/);
        expect(ctl).toMatch(/Type=notify/);
        expect(ctl).toMatch(/User=plumb/);
        expect(ctl).toMatch(/WatchdogUSec=30s/);
        expect(ctl).toMatch(/CapabilityBoundingSet=\n/);
        expect(ctl).toMatch(/enabled\nenabled/);
        for (const hv of ['hv1', 'hv2']) {
          const agent = await node(hv, 'systemctl is-active plumb-agent; systemctl show plumb-agent -p Type -p NRestarts -p WatchdogUSec -p CapabilityBoundingSet -p AmbientCapabilities; systemctl is-enabled plumb-agent');
          expect(agent, hv).toMatch(/^active\n/);
          expect(agent, hv).toMatch(/Type=notify/);
          expect(agent, hv).toMatch(/WatchdogUSec=\d+s/);
          expect(agent, hv).toMatch(/CapabilityBoundingSet=cap_net_admin cap_net_raw\n/);
          expect(agent, hv).toMatch(/NRestarts=0/);
          expect(agent, hv).toMatch(/enabled\n?$/);
        }
        const hosts = await plumb('host list');
        expect(hosts).toMatch(/hv1\s+alive/);
        expect(hosts).toMatch(/hv2\s+alive/);
        for (const [n, unit] of [['controller', 'plumb-controller'], ['hv1', 'plumb-agent']] as const) {
          const sec = await node(n, `systemd-analyze security ${unit}.service --no-pager | tail -n 1`);
          figures.push(`systemd-analyze security ${unit}: ${sec.trim()}`);
        }

        // --- the walkthrough ---------------------------------------------------------------------------
        await makeVms('hv1', ['a1', 'b1', 'c1', 'd1']);
        await makeVms('hv2', ['a2', 'b2', 'd2']);

        // a private network as PHYSICAL_VLAN over the trunk: real 802.1Q in the guests' kernels
        const vlan = await createNetwork('vlan-net', 'PHYSICAL_VLAN');
        await createPort(vlan.id, 'a1', 'hv1');
        await createPort(vlan.id, 'a2', 'hv2');
        const a1 = await dhcp('hv1', 'a1');
        await dhcp('hv2', 'a2');
        const vid = vlan['provider:segmentation_id'];
        expect(await node('hv1', `ip -d link show eth2.${vid}`)).toMatch(new RegExp(`vlan protocol 802\\.1Q id ${vid}`));
        expect(await pingFromVm('hv2', 'a2', a1)).toBe(true);

        // a VXLAN network over the underlay
        const vx = await createNetwork('vx-net', 'VXLAN');
        await createPort(vx.id, 'b1', 'hv1');
        await createPort(vx.id, 'b2', 'hv2');
        const b1 = await dhcp('hv1', 'b1');
        await dhcp('hv2', 'b2');
        expect(await pingFromVm('hv2', 'b2', b1)).toBe(true);
        expect(await node('hv1', 'ip -d link show type vxlan')).toMatch(new RegExp(`vxlan id ${vx['provider:segmentation_id']}`));

        // a routed public address handed out by DHCP; the libvirt namespace is the upstream router
        const bridge = /<bridge name='([^']+)'/.exec(await virsh('net-dumpxml', 'plumb-public'))?.[1];
        expect(bridge).toBeTruthy();
        await inNs(['ip', 'addr', 'replace', '203.0.113.1/24', 'dev', bridge as string], 10_000);
        const networks = await plumb("network list --json");
        const publicId = (JSON.parse(networks.slice(networks.indexOf('['))) as { id: string; public: boolean }[]).find((n) => n.public)?.id as string;
        const c1Port = await createPort(publicId, 'c1', 'hv1');
        const c1 = await dhcp('hv1', 'c1');
        expect(c1).toBe(c1Port.fixed_ips.find((f) => f.ip_address.includes('.'))?.ip_address);
        expect(await pingFromOutside(c1)).toBe(true);
        expect(await pingFromVm('hv1', 'c1', '203.0.113.1')).toBe(true);

        // a floating IP attached on hv1, then moved to a server on hv2
        const fipOut = await plumb('ip create --network-id ' + publicId + ' --json');
        const fip = JSON.parse(fipOut.slice(fipOut.indexOf('{'))) as { id: string; floating_ip_address: string };
        await plumb(`ip attach ${fip.id} --server-id d1 --host hv1 --wait`);
        expect(await dhcp('hv1', 'd1')).toBe(fip.floating_ip_address);
        expect(await pingFromOutside(fip.floating_ip_address)).toBe(true);
        t = Date.now();
        await plumb(`ip detach ${fip.id} --wait`);
        await plumb(`ip attach ${fip.id} --server-id d2 --host hv2 --wait`);
        expect(await dhcp('hv2', 'd2')).toBe(fip.floating_ip_address);
        expect(await until('the floating IP answers from hv2', async () => ((await pingFromOutside(fip.floating_ip_address)) ? true : undefined), 60_000));
        figures.push(`floating IP moved hv1 -> hv2 and answering in ${secs(Date.now() - t)} (CLI on a TCG node included)`);
        const hv2Mac = (await node('hv2', 'cat /sys/class/net/eth3/address')).trim();
        expect(await inNs(['ip', 'neigh', 'show', fip.floating_ip_address], 10_000)).toContain(hv2Mac);

        // --- the agent under systemd: READY=1 time with ports, a restart that changes nothing, RSS -----
        const restart = await node(
          'hv1',
          [
            'sudo systemctl restart plumb-agent',
            'systemctl show plumb-agent -p ExecMainStartTimestampMonotonic -p ActiveEnterTimestampMonotonic -p MainPID',
            'pid=$(systemctl show plumb-agent -p MainPID --value)',
            'sleep 2; grep VmRSS /proc/$pid/status',
            // the new process's first pass (READY=1 follows it), not an earlier one of the old process
            'sudo journalctl -o cat _PID=$pid | grep "reconcile pass" | head -n 1',
          ].join('; '),
          240_000,
        );
        const mono = (k: string): number => Number(new RegExp(`${k}=(\\d+)`).exec(restart)?.[1]);
        const readyMs = (mono('ActiveEnterTimestampMonotonic') - mono('ExecMainStartTimestampMonotonic')) / 1000;
        expect(readyMs).toBeGreaterThan(0);
        figures.push(`hv1 (${[a1, b1, c1, 'd1'].length} ports): systemctl restart plumb-agent -> READY=1 in ${secs(readyMs)} (TCG); ${/VmRSS:\s+\d+ kB/.exec(restart)?.[0] ?? 'VmRSS ?'}`);
        const firstPass = /\{.*"reconcile pass".*\}/.exec(restart)?.[0];
        expect(firstPass, restart).toBeTruthy();
        expect(JSON.parse(firstPass as string)).toMatchObject({ writes: 0, failures: 0, rejections: 0 });
        expect(await pingFromVm('hv2', 'a2', a1)).toBe(true);

        // --- vagrant halt hv1 && vagrant up hv1: systemd brings the agent back, the kernel state is
        // restored once the VM manager has started its VMs again (their namespaces died with the node)
        t = Date.now();
        await vagrant(['halt', 'hv1'], 600_000);
        await vagrant(['up', 'hv1'], 1_200_000);
        figures.push(`vagrant halt hv1 && vagrant up hv1: ${secs(Date.now() - t)}`);
        writeFileSync(sshConfig, (await vagrant(['ssh-config'], 120_000)).out);
        const back = await node('hv1', 'systemctl is-active plumb-agent; ip -br addr show eth2');
        expect(back).toMatch(/^active\n/);
        expect(back).toContain('10.90.0.11/24');
        t = Date.now();
        await makeVms('hv1', ['a1', 'b1', 'c1']);
        expect(await dhcp('hv1', 'a1')).toBe(a1);
        expect(await dhcp('hv1', 'b1')).toBe(b1);
        expect(await dhcp('hv1', 'c1')).toBe(c1);
        expect(await pingFromVm('hv2', 'a2', a1)).toBe(true);
        expect(await pingFromVm('hv2', 'b2', b1)).toBe(true);
        expect(await pingFromOutside(c1)).toBe(true);
        figures.push(`after the reboot: VMs restarted to traffic resuming on all three networks in ${secs(Date.now() - t)}`);
      } finally {
        if (libvirtStarted) {
          const t = Date.now();
          await vagrant(['destroy', '-f'], 900_000).catch((err: unknown) => log(`destroy: ${String(err)}`));
          await removeBoxVolume();
          const left = await leftovers().catch((err: unknown) => [`(libvirt unreadable: ${String(err)})`]);
          figures.push(`vagrant destroy -f: ${secs(Date.now() - t)}`);
          await sh('bash', ['scripts/vagrant/libvirt-netns.sh', 'stop'], 60_000).catch((err: unknown) => log(`stop: ${String(err)}`));
          const nsLeft = (await sh('ip', ['netns', 'list'], 10_000)).split('\n').some((l) => l.split(' ')[0] === NS);
          rmSync(sshConfig, { force: true });
          log(figures.join('\n[vagrant] '));
          expect(left, 'libvirt domains, networks or volumes left behind').toEqual([]);
          expect(nsLeft, `namespace ${NS} left behind`).toBe(false);
        } else log(figures.join('\n[vagrant] '));
      }
    });
  }, 3_600_000);
});

/** vagrant-libvirt keeps the box's image as a volume of the pool after destroy: remove it too. */
async function removeBoxVolume(): Promise<void> {
  const vols = (await virsh('vol-list', 'default').catch(() => '')).split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '');
  for (const v of vols.filter((n) => n.startsWith('plumb-local-VAGRANTSLASH'))) await virsh('vol-delete', '--pool', 'default', v).catch(() => undefined);
}
