// The README's main job end to end: `plumb lab up` (nats-server, controller, two agents in host
// namespaces), the seeds' walkthrough (`plumb lab demo`), the CLIs reading the lab's env file,
// and `plumb lab down` leaving nothing behind. Uses the built CLI (scripts/test.sh builds).
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
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

  it('goes down leaving no namespace, process or file behind', () => {
    const down = plumb('lab', 'down');
    expect(down.status).toBe(0);
    expect(labNamespaces()).toEqual([]);
    expect(existsSync('/run/plumb-lab')).toBe(false);
    const procs = spawnSync('pgrep', ['-f', 'plumb-lab|lab vm-dhcp|agent run --config /run/plumb-lab'], { encoding: 'utf8' }).stdout.trim();
    expect(procs).toBe('');
  }, 60_000);
});
