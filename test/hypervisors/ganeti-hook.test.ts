// `plumb hook ganeti-ifup` / `ganeti-ifdown` run the way Ganeti runs its NIC script, with
// nothing but the variables hv_base.ConfigureNIC sets (Ganeti adds them to its node daemon's
// environment: the hook must need nothing else), after Ganeti opened the tap itself. Real
// controller on loopback, real nats-server, real agent daemon in a throwaway namespace: the tap
// is adopted into the port with the NIC's MAC, the hook returns once the agent reports it ACTIVE,
// fails with a clear message when plumb knows no such port, and leaves a port live on another
// node alone unless the NIC is routed (docs/hypervisors.md, live migration). A real Ganeti
// cluster calling it: ganeti-cluster.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startNatsServer, type NatsServer } from '../../src/bus/nats-server.js';
import { CONTROLLER_USER, seedPath } from '../../src/bus/credentials.js';
import type { RunningController } from '../../src/controller/server.js';
import { ALICE, caller, identities, testController } from '../controller/fixture.js';
import { Netns, ipIn } from '../helpers/netns.js';
import { LogTail, link, spawnPlumb, tempDir } from '../helpers/topology.js';
import { until } from '../helpers/until.js';

const netns = new Netns();
const repo = new URL('../..', import.meta.url).pathname;
let server: NatsServer;
let ctl: RunningController;
let agent: ChildProcess;
let host = '';
let hookConfig = '';
let net = '';
let nova: ReturnType<typeof caller>;

beforeAll(async () => {
  host = netns.add('pt-gnt');
  server = await startNatsServer({ hosts: ['node1'] });
  ctl = await testController({ nats: { url: server.url, seedFile: seedPath(server.credsDir, CONTROLLER_USER) } });
  const ids = identities(ctl.url);
  nova = ids.nova;
  net = (await ids.alice('POST', '/v2.0/networks', { network: { name: 'gnt-net' } })).body.network.id as string;
  const dir = tempDir();
  const agentConfig = join(dir, 'agent.yaml');
  writeFileSync(agentConfig, `host: node1\nnetns: ${host}\nnats:\n  url: ${server.url}\n  seedFile: ${seedPath(server.credsDir, 'node1')}\nheartbeatSeconds: 1\n`);
  agent = spawnPlumb(['agent', 'run', '--config', agentConfig]);
  await new LogTail(agent).waitFor((l) => l.msg === 'agent started', 20_000);
  writeFileSync(join(dir, 'nova.password'), 'pw-n\n');
  hookConfig = join(dir, 'hook.yaml');
  writeFileSync(hookConfig, `controller:\n  url: ${ctl.url}\n  user: nova\n  passwordFile: ${join(dir, 'nova.password')}\nhost: node1\ntimeoutSeconds: 20\n`);
});

afterAll(async () => {
  if (agent?.exitCode === null) {
    agent.kill('SIGTERM');
    await new Promise((r) => agent.once('exit', r));
  }
  await ctl?.close();
  await server?.destroy();
  netns.cleanup();
});

/** What Ganeti sets for a NIC of a bridged instance on a network with a subnet (hv_base.ConfigureNIC). */
function ganetiEnv(nic: { instance: string; mac: string; tap: string; ip?: string }): NodeJS.ProcessEnv {
  return {
    PATH: `${process.env.PATH ?? ''}:/sbin:/usr/sbin`,
    INSTANCE: nic.instance,
    MAC: nic.mac,
    MODE: 'bridged',
    INTERFACE: nic.tap,
    INTERFACE_INDEX: '0',
    INTERFACE_UUID: 'b0c1d5a4-8f51-4c6e-9d0e-3f4a4e0d7c11',
    TAGS: 'plumb',
    LINK: 'br0',
    BRIDGE: 'br0',
    NETWORK_NAME: 'gnt-net',
    NETWORK_UUID: '5b1b8d6e-1f0f-4d2e-8a8a-0c7c3c9b2a10',
    NETWORK_TAGS: '',
    NETWORK_SUBNET: '192.168.0.0/24',
    ...(nic.ip ? { IP: nic.ip } : {}),
  };
}

/** The hook with nothing of the caller's environment, only the NIC's variables. */
async function hook(verb: 'ganeti-ifup' | 'ganeti-ifdown', env: NodeJS.ProcessEnv, config = hookConfig): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', join(repo, 'src/cli/main.ts'), 'hook', verb, '--config', config], { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? -1)));
  return { code, stdout, stderr, ms: Math.round(performance.now() - started) };
}

async function newPort(device: string): Promise<{ id: string; mac: string; ip: string }> {
  const p = (await nova('POST', '/v2.0/ports', { port: { network_id: net, project_id: ALICE, device_id: device } })).body.port;
  return { id: p.id as string, mac: p.mac_address as string, ip: p.fixed_ips[0].ip_address as string };
}

describe('the Ganeti NIC hook', () => {
  it('adopts the tap Ganeti opened into the port with its MAC and returns once the agent applied it', async () => {
    const port = await newPort('inst1');
    ipIn(host, 'tuntap', 'add', 'dev', 'tap0', 'mode', 'tap');
    const r = await hook('ganeti-ifup', ganetiEnv({ instance: 'inst1.example.org', mac: port.mac.toUpperCase(), tap: 'tap0', ip: port.ip }));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^plumb: port ${port.id} adopted instance inst1.example.org NIC 0 on tap0 at node1; ACTIVE after \\d+ ms`));
    expect(r.stderr).toBe('');
    console.log(`[ganeti-hook] ifup to ACTIVE: ${/after (\d+) ms/.exec(r.stdout)?.[1]} ms (whole hook run ${r.ms} ms)`);
    // by the time the hook returns, the tap is in place: Ganeti starts KVM on it next
    expect(link(host, 'tap0')).toMatchObject({ master: 'plumbmf0', ifalias: `plumb:adopted:${port.id}` });
    const seen = (await nova('GET', `/v2.0/ports/${port.id}`)).body.port;
    expect(seen).toMatchObject({ status: 'ACTIVE', 'binding:host_id': 'node1', 'binding:profile': { ifname: 'tap0', adopt: true } });

    const down = await hook('ganeti-ifdown', ganetiEnv({ instance: 'inst1.example.org', mac: port.mac, tap: 'tap0' }));
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toBe(`plumb: port ${port.id} unbound from tap0\n`);
    await until(() => (link(host, 'tap0')?.ifalias === undefined ? true : undefined), 15_000, 50);
    expect(link(host, 'tap0')?.master, "the tap is Ganeti's: handed back, not deleted").toBeUndefined();
    const again = await hook('ganeti-ifdown', ganetiEnv({ instance: 'inst1.example.org', mac: port.mac, tap: 'tap0' }));
    expect(again.stdout).toMatch(/^plumb: nothing to do: port \d+ is bound to no host/);
    ipIn(host, 'link', 'del', 'tap0');
  });

  it('fails the NIC with a clear message for an unknown MAC or a missing variable', async () => {
    ipIn(host, 'tuntap', 'add', 'dev', 'tap5', 'mode', 'tap');
    const unknown = await hook('ganeti-ifup', ganetiEnv({ instance: 'ghost', mac: 'aa:00:00:de:ad:01', tap: 'tap5' }));
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('plumb: plumb knows no port with MAC aa:00:00:de:ad:01 (instance ghost NIC 0 on tap5); create the port through the API (or give the NIC a port\'s MAC) before starting the instance\n');
    expect(link(host, 'tap5')?.master).toBeUndefined();
    const env = ganetiEnv({ instance: 'ghost', mac: 'aa:00:00:de:ad:01', tap: 'tap5' });
    delete env.INTERFACE;
    const missing = await hook('ganeti-ifup', env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^plumb: INTERFACE: is not set: run this as Ganeti's NIC script/);
    const bad = await hook('ganeti-ifup', { ...env, INTERFACE: 'tap5; reboot' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^plumb: INTERFACE: 'tap5; reboot' is not an interface name/);
    ipIn(host, 'link', 'del', 'tap5');
  });

  it('a port left on a tap name the kernel gave out again is unbound; the port whose tap closed shows DOWN, waiting', async () => {
    const a = await newPort('inst2');
    ipIn(host, 'tuntap', 'add', 'dev', 'tap1', 'mode', 'tap');
    expect((await hook('ganeti-ifup', ganetiEnv({ instance: 'inst2', mac: a.mac, tap: 'tap1' }))).code).toBe(0);
    // the instance stops: Ganeti 3.0 calls no ifdown, its tap just closes
    ipIn(host, 'link', 'del', 'tap1');
    const waiting = await until(async () => {
      const p = (await nova('GET', `/v2.0/ports/${a.id}`)).body.port;
      return p.status === 'DOWN' ? p : undefined;
    }, 15_000, 50);
    expect(waiting.status_reason).toBe("waiting for the VM manager to create tap 'tap1'");
    // another instance starts and the kernel names its tap tap1 again
    const b = await newPort('inst3');
    ipIn(host, 'tuntap', 'add', 'dev', 'tap1', 'mode', 'tap');
    const r = await hook('ganeti-ifup', ganetiEnv({ instance: 'inst3', mac: b.mac, tap: 'tap1' }));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(`plumb: warning: port ${a.id} still named tap1 on node1, whose tap is gone; unbound it\n`);
    expect(link(host, 'tap1')?.ifalias).toBe(`plumb:adopted:${b.id}`);
    expect((await nova('GET', `/v2.0/ports/${a.id}`)).body.port['binding:host_id']).toBe('');
  });

  it("a bridged NIC on another node leaves a port that is live here alone (a migration's destination, before the migration); a routed one takes it", async () => {
    const port = await newPort('inst4');
    ipIn(host, 'tuntap', 'add', 'dev', 'tap4', 'mode', 'tap');
    expect((await hook('ganeti-ifup', ganetiEnv({ instance: 'inst4', mac: port.mac, tap: 'tap4' }))).code).toBe(0);
    // node2 has no agent here: its hook gives up after 2 s, which is all this needs
    const node2 = join(hookConfig, '..', 'hook-node2.yaml');
    writeFileSync(node2, readFileSync(hookConfig, 'utf8').replace('host: node1', 'host: node2').replace('timeoutSeconds: 20', 'timeoutSeconds: 2'));
    const bridged = await hook('ganeti-ifup', ganetiEnv({ instance: 'inst4', mac: port.mac, tap: 'tap0' }), node2);
    expect(bridged.code).toBe(1);
    expect(bridged.stderr).toBe(
      `plumb: port ${port.id} is ACTIVE on node1, and this bridged NIC (instance inst4 NIC 0 on tap0) would take it away from the running instance: Ganeti configures bridged NICs on a migration's destination before the migration. Give plumb NICs mode=routed (Ganeti then runs this script on the destination once the migration succeeded), or stop the instance on node1 first\n`,
    );
    expect((await nova('GET', `/v2.0/ports/${port.id}`)).body.port).toMatchObject({ status: 'ACTIVE', 'binding:host_id': 'node1' });
    expect(link(host, 'tap4')?.ifalias).toBe(`plumb:adopted:${port.id}`);
    // routed: Ganeti runs it where the instance now runs, so binding there is the switch
    const routed = await hook('ganeti-ifup', { ...ganetiEnv({ instance: 'inst4', mac: port.mac, tap: 'tap0' }), MODE: 'routed' }, node2);
    expect(routed.code).toBe(1);
    expect(routed.stderr).toMatch(new RegExp(`^plumb: port ${port.id} is still \\w+ after 2 s`));
    expect((await nova('GET', `/v2.0/ports/${port.id}`)).body.port['binding:host_id']).toBe('node2');
    // node1's agent hands Ganeti's tap back
    await until(() => (link(host, 'tap4')?.ifalias === undefined ? true : undefined), 15_000, 50);
    ipIn(host, 'link', 'del', 'tap4');
  });
});
