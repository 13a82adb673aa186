// The README's main job end to end: `plumb lab up` (nats-server, controller, two agents in host
// namespaces), the seeds' walkthrough (`plumb lab demo`), the CLIs reading the lab's env file,
// and `plumb lab down` leaving nothing behind. Uses the built CLI (scripts/test.sh builds).
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { recordPid } from '../../src/lab/processes.js';
import { api } from '../../src/lab/controller.js';
import { LAB_AGENT_METRICS } from '../../src/lab/layout.js';
import { join } from 'node:path';

const repo = new URL('../..', import.meta.url).pathname;
const plumb = (...args: string[]) => spawnSync(process.execPath, [join(repo, 'bin', 'plumb.js'), ...args], { encoding: 'utf8', timeout: 240_000 });
const labNamespaces = () => (existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith('plab-')) : []);

afterAll(() => {
  plumb('lab', 'down');
});

describe('the local lab', () => {
  it('comes up with one command and prints how to use it', () => {
    expect(labNamespaces(), 'a lab is already running here: plumb lab down first').toEqual([]);
    const up = plumb('lab', 'up');
    expect(up.stderr).toBe('');
    expect(up.status).toBe(0);
    expect(up.stdout).toMatch(/The lab is up\./);
    expect(up.stdout).toContain(`http://${LAB_AGENT_METRICS.h1}/metrics (h1)`);
    expect(labNamespaces().sort()).toEqual(['plab-fabric', 'plab-h1', 'plab-h2', 'plab-router']);
  }, 120_000);

  it('the CLI and openstack read the lab env file; both hosts report', async () => {
    let hosts = '';
    for (let i = 0; i < 50 && !/h1\s+alive[\s\S]*h2\s+alive/.test(hosts); i++) {
      hosts = plumb('host', 'list').stdout;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(hosts).toMatch(/h1\s+alive\s+underlay 10\.90\.0\.1/);
    expect(hosts).toMatch(/h2\s+alive\s+underlay 10\.90\.0\.2/);
    expect(plumb('network', 'list').stdout.trim()).toBe('1 public');
    // each agent serves its metrics where the lab said
    for (const h of ['h1', 'h2'] as const) {
      const text = await (await fetch(`http://${LAB_AGENT_METRICS[h]}/metrics`)).text();
      expect(text).toMatch(/^plumb_agent_reconcile_passes_total [1-9]/m);
    }
    if (existsSync('/usr/bin/openstack')) {
      const env = Object.fromEntries(
        spawnSync('cat', ['/run/plumb-lab/env'], { encoding: 'utf8' }).stdout.trim().split('\n').map((l) => l.split('=') as [string, string]),
      );
      const os = spawnSync('openstack', ['--os-auth-type', 'http_basic', '--os-username', env.PLUMB_USER ?? '', '--os-password', env.PLUMB_PASSWORD ?? '', '--os-endpoint', env.PLUMB_URL ?? '', 'network', 'list', '-f', 'value', '-c', 'Name'], { encoding: 'utf8' });
      expect(os.stdout.trim()).toBe('public');
    }
  }, 60_000);

  it("replays the seeds' walkthrough: cross-host ping, floating IP reached from the router and moved, errors, teardown", () => {
    const demo = plumb('lab', 'demo');
    expect(demo.stderr).toBe('');
    expect(demo.status).toBe(0);
    expect(demo.stdout).toMatch(/141 -> 142 ping across hosts: ok/);
    expect(demo.stdout).toMatch(/router -> 203\.0\.113\.\d+ \(141 on h1\): ok/);
    expect(demo.stdout).toMatch(/\(409\) IP address '203\.0\.113\.\d+' is already in use/);
    expect(demo.stdout).toMatch(/router -> 203\.0\.113\.\d+ \(142 on h2\): ok/);
    expect(demo.stdout).toMatch(/\(413\) Limit for resource 'Floating IP address' exceeded for your account\. Available: 0, Requested: 1/);
    expect(demo.stdout).toMatch(/\(403\) Network with id 1 is in use\n\s+\|  FORBIDDEN forbidden \(Can not delete the public network\.\)/);
    expect(demo.stdout).toMatch(/demo complete/);
  }, 240_000);

  it('nats-server away for 30 s while ports are created and deleted: traffic unaffected, hosts converge within 2 s of its return', async () => {
    expect(plumb('network', 'create', '--name', 'drill').status).toBe(0);
    const netId = JSON.parse(plumb('network', 'list', '--json').stdout).find((n: { name: string }) => n.name === 'drill').id as string;
    expect(plumb('lab', 'server', 'create', 'd1', '--host', 'h1', '--nic', `net-id=${netId}`).status).toBe(0);
    expect(plumb('lab', 'server', 'create', 'd2', '--host', 'h2', '--nic', `net-id=${netId}`).status).toBe(0);
    const addr = (vm: string): string | undefined => /inet (\d+\.\d+\.\d+\.\d+)/.exec(spawnSync('ip', ['-n', `plab-vm-${vm}`, '-4', '-o', 'addr', 'show', 'dev', 'eth0'], { encoding: 'utf8' }).stdout)?.[1];
    for (let i = 0; i < 100 && (!addr('d1') || !addr('d2')); i++) await new Promise((r) => setTimeout(r, 200));
    const target = addr('d2') as string;
    expect(target).toBeDefined();
    // 40 s of pings across hosts, through the outage
    const pinger = spawn('ip', ['netns', 'exec', 'plab-vm-d1', 'ping', '-c', '400', '-i', '0.1', '-W', '1', target], { stdio: ['ignore', 'pipe', 'ignore'] });
    let pingOut = '';
    pinger.stdout?.on('data', (d: Buffer) => (pingOut += d.toString()));
    const pids = JSON.parse(readFileSync('/run/plumb-lab/pids.json', 'utf8')) as Record<string, number>;
    process.kill(pids['nats-server'] as number, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 1000));
    // while the bus is away: one port created, one created and deleted (h1, tap kind)
    // (taps: these devices have no VM namespace for the lab's veth binding)
    const create = async (dev: string): Promise<string> => (await api<{ port: { id: string } }>('POST', '/v2.0/ports', { port: { network_id: netId, device_id: dev, 'binding:host_id': 'h1', 'binding:profile': { kind: 'tap' } } })).port.id;
    const kept = await create('dk');
    const gone = await create('dg');
    await api('DELETE', `/v2.0/ports/${gone}`);
    await new Promise((r) => setTimeout(r, 29_000));
    // the bus returns: same config, same store
    const nats = spawn('/usr/sbin/nats-server', ['-c', '/run/plumb-lab/nats/nats-server.conf'], { detached: true, stdio: 'ignore' });
    nats.unref();
    recordPid('nats-server', nats.pid as number);
    // "within 2 s of reconnecting": count from the moment the server accepts connections again
    const natsPort = Number(/listen: "[^:]+:(\d+)"/.exec(readFileSync('/run/plumb-lab/nats/nats-server.conf', 'utf8'))?.[1]);
    for (let up = false; !up; ) {
      up = await new Promise<boolean>((resolve) => {
        const c = connect(natsPort, '127.0.0.1');
        c.once('connect', () => (c.destroy(), resolve(true)));
        c.once('error', () => resolve(false));
      });
      if (!up) await new Promise((r) => setTimeout(r, 20));
    }
    const back = Date.now();
    const hasLink = (name: string): boolean => spawnSync('ip', ['-n', 'plab-h1', 'link', 'show', name]).status === 0;
    let converged = Infinity;
    for (let i = 0; i < 100; i++) {
      if (hasLink(`tap${kept}`) && !hasLink(`tap${gone}`)) {
        converged = Date.now() - back;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(converged).toBeLessThan(2000);
    await new Promise((r) => pinger.on('exit', r));
    expect(pingOut).toMatch(/400 packets transmitted, 400 received, 0% packet loss/);
  }, 120_000);

  it('goes down leaving no namespace, process or file behind', () => {
    const down = plumb('lab', 'down');
    expect(down.status).toBe(0);
    expect(labNamespaces()).toEqual([]);
    expect(existsSync('/run/plumb-lab')).toBe(false);
    const procs = spawnSync('pgrep', ['-f', 'plumb-lab|lab vm-dhcp|agent run --config /run/plumb-lab'], { encoding: 'utf8' }).stdout.trim();
    expect(procs).toBe('');
  }, 60_000);
});
