// The seeds' kamaki walkthrough replayed through the real `plumb` CLI against a controller on
// loopback (agents are played in-process: their ACTIVE reports come through the hooks).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningController } from '../../src/controller/server.js';
import { runPlumb } from '../helpers/topology.js';
import { testController } from './fixture.js';

let ctl: RunningController;
let env: NodeJS.ProcessEnv;
const plumb = (...args: string[]) => runPlumb(args, env);
// the VM manager (service role), which places alice's servers on hosts
const asNova = (...args: string[]) => runPlumb(args, { ...env, PLUMB_USER: 'nova', PLUMB_PASSWORD: 'pw-n' });

beforeAll(async () => {
  ctl = await testController();
  env = { PLUMB_URL: ctl.url, PLUMB_USER: 'alice', PLUMB_PASSWORD: 'pw-a', PLUMB_ENV_FILE: '/nonexistent' };
  // the agents of h1 report every port of the current revision ACTIVE
  ctl.hooks.onHostsChanged((changes) => {
    for (const { host } of changes) {
      void ctl.hooks.desiredState(host).then((d) => {
        for (const p of (d.ports ?? []) as { id: string; revision: number }[]) ctl.hooks.reportPortStatus({ hostId: host, portId: p.id, status: 'ACTIVE', revision: p.revision, generation: d.generation ?? 0 });
      });
    }
  });
});
afterAll(async () => ctl?.close());

describe('the kamaki walkthrough through plumb', () => {
  it('network list shows the public network', async () => {
    const r = await plumb('network', 'list');
    expect(r.stdout.trim()).toBe('1 public');
  });

  it("network create --name 'My Private Net' (type MAC_FILTERED, the next /24)", async () => {
    const r = await plumb('network', 'create', '--name', 'My Private Net');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ id: 2\n/);
    expect(r.stdout).toMatch(/ status: ACTIVE/);
    expect(r.stdout).toMatch(/ type: MAC_FILTERED/);
    expect(r.stdout).toMatch(/ router:external: false/);
  });

  it('network connect 2 --device-id=141 --device-id=142 --wait creates ports nic-141-0, nic-142-0, ACTIVE', async () => {
    // a project member cannot choose the host: that is the VM manager's
    const refused = await plumb('network', 'connect', '2', '--device-id=141', '--host', 'h1');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr.trim()).toBe('(403) binding:host_id may be set only by the admin or service role (rule:create_port:binding:host_id is disallowed by policy)');
    const r = await asNova('network', 'connect', '2', '--device-id=141', '--device-id=142', '--host', 'h1', '--project', 's0m3-u53r-1d', '--wait');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Creating a port to connect network 2 with device 141/);
    expect(r.stdout).toMatch(/nic-141-0\s+ACTIVE\s+network 2\s+device 141\s+host h1/);
    expect(r.stdout).toMatch(/nic-142-0\s+ACTIVE\s+network 2\s+device 142\s+host h1/);
  });

  it('ip create / ip attach --wait, and the second attach of a used IP fails with 409', async () => {
    const c = await plumb('ip', 'create', '--network-id=1');
    expect(c.stdout).toMatch(/floating_ip_address: 192\.168\.3\.5/);
    const a = await plumb('ip', 'attach', '1', '--server-id=141', '--wait');
    expect(a.code).toBe(0);
    // ACTIVE: bound to h1, the host of 141's other NIC (whose agent reports it); alice is not shown the host
    expect(a.stdout).toMatch(/nic-141-1\s+ACTIVE\s+network 1\s+device 141\s+host - .* 192\.168\.3\.5/);
    const again = await plumb('ip', 'attach', '1', '--server-id=142', '--wait');
    expect(again.code).not.toBe(0);
    expect(again.stderr.trim()).toBe("(409) IP address '192.168.3.5' is already in use");
  });

  it('server addr shows the NICs of a device', async () => {
    const r = await plumb('server', 'addr', '141');
    expect(r.stdout).toMatch(/nic-141-0\n firewallProfile: DISABLED\n ipv4: 192\.168\.1\.\d+/);
    expect(r.stdout).toMatch(/nic-141-1\n firewallProfile: DISABLED\n ipv4: 192\.168\.3\.5/);
  });

  it('quota: two more floating IPs fit, the next one fails with the seeds 413 message', async () => {
    await plumb('ip', 'create', '--network-id=1');
    await plumb('ip', 'create', '--network-id=1');
    const over = await plumb('ip', 'create', '--network-id=1');
    expect(over.code).not.toBe(0);
    expect(over.stderr.trim()).toBe("(413) Limit for resource 'Floating IP address' exceeded for your account. Available: 0, Requested: 1");
    const q = await plumb('quota', 'list');
    expect(q.stdout).toMatch(/cyclades\.floating_ip:\n\s+usage: 3\n\s+limit: 3/);
  });

  it('deleting the public network or a network in use fails with 403', async () => {
    const pub = await plumb('network', 'delete', '1');
    expect(pub.stderr.trim()).toBe('(403) Network with id 1 is in use\n|  FORBIDDEN forbidden (Can not delete the public network.)');
    const used = await plumb('network', 'delete', '2');
    expect(used.stderr.trim()).toBe('(403) Network with id 2 is in use');
  });

  it('disconnect the devices (by device and by NIC name), then the network can be deleted', async () => {
    expect((await plumb('network', 'disconnect', '2', '--device-id=141', '--wait')).code).toBe(0);
    expect((await plumb('network', 'disconnect', '2', '--nic', 'nic-142-0', '--wait')).code).toBe(0);
    const missing = await plumb('network', 'disconnect', '2', '--nic', 'nic-141-2');
    expect(missing.stderr).toMatch(/--nic: no NIC nic-141-2 on network 2/);
    expect((await plumb('network', 'delete', '2')).code).toBe(0);
    expect((await plumb('network', 'list')).stdout.trim()).toBe('1 public');
  });
});
