// `plumb lab up --ha` end to end, with the built CLI: PostgreSQL, two controllers behind haproxy,
// three NATS nodes and the two hosts. With two VMs pinging across hosts and ports churning
// through the balancer: SIGKILL of the controller that publishes (the API stays up through the
// other, which takes over publishing), SIGKILL of PostgreSQL (503 with Retry-After while it is
// away, nothing half-applied, both controllers resume), SIGKILL of the NATS node leading the
// bucket (the hosts converge on the others, and it catches up). After each drill the store, the
// bucket and both hosts' kernels agree; `plumb lab status` shows each part's health throughout.
import { describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connectBus } from '../../src/bus/connection.js';
import { CONTROLLER_USER, seedPath } from '../../src/bus/credentials.js';
import { BUCKET, STREAM } from '../../src/bus/layout.js';
import { api, LAB_ADMIN, LAB_ADMIN_PASSWORD, LAB_PASSWORD, LAB_USER, bindPort } from '../../src/lab/controller.js';
import { hostLinks, killDaemon, startDaemon, tapName, waitConverged, type LabDaemon } from '../../src/lab/drills.js';
import { readHaLayout } from '../../src/lab/ha.js';
import { CONTROLLER_URL } from '../../src/lab/layout.js';
import { Observer, pingStats } from '../hypervisors/observers.js';
import { run } from '../helpers/run.js';
import { holdTheLab, labNamespaces, plumb } from './lab-harness.js';

holdTheLab();

/** `plumb lab status`, its HA lines by part */
async function status(): Promise<Map<string, string>> {
  const out = (await plumb('lab', 'status')).stdout;
  const parts = new Map<string, string>();
  for (const l of out.split('\n')) {
    const m = /^ {2}(postgresql|nats n\d|controller-\d|haproxy)\s+(.*)$/.exec(l);
    if (m?.[1] && m[2]) parts.set(m[1], m[2]);
  }
  return parts;
}

/** Through the balancer, as the lab's demo user: the status of each answer, never a thrown fetch. */
async function through(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, any>; retryAfter: string | null }> {
  try {
    const res = await fetch(`${CONTROLLER_URL}${path}`, {
      method,
      headers: { authorization: `Basic ${Buffer.from(`${LAB_USER}:${LAB_PASSWORD}`).toString('base64')}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, any>) : {}, retryAfter: res.headers.get('retry-after') };
  } catch {
    return { status: -1, body: {}, retryAfter: null };
  }
}

describe('the HA lab', () => {
  let net = '';
  let pinger: Observer;
  const RECOVERY_BOUND_MS = 30_000;
  const createTap = async (dev: string, host: 'h1' | 'h2' = 'h1'): Promise<string> =>
    (await bindPort<{ id: string }>({ network_id: net, device_id: dev, 'binding:host_id': host, 'binding:profile': { kind: 'tap' } })).id;

  /** Ports made and deleted through the balancer while `during` runs; the answers by status (and when each create was sent). */
  async function churnDuring(during: () => Promise<void>): Promise<Map<number, number> & { sent: { status: number; at: number }[] }> {
    const answers = Object.assign(new Map<number, number>(), { sent: [] as { status: number; at: number }[] });
    let stop = false;
    const loop = (async () => {
      for (let i = 0; !stop; i++) {
        const at = Date.now();
        const made = await through('POST', '/v2.0/ports', { port: { network_id: net } });
        answers.set(made.status, (answers.get(made.status) ?? 0) + 1);
        answers.sent.push({ status: made.status, at });
        if (made.status === 503) expect(made.retryAfter).toBe('2');
        if (made.status === 201) await through('DELETE', `/v2.0/ports/${made.body.port.id}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      await during();
    } finally {
      stop = true;
      await loop;
    }
    return answers;
  }

  /** The store, the bucket and both hosts' kernels agree: every bound tap port is on its host, every port ACTIVE. */
  async function agree(): Promise<void> {
    const ports = (await api<{ ports: { id: string; status: string; 'binding:host_id': string; 'binding:profile': { kind?: string } }[] }>('GET', '/v2.0/ports', undefined, LAB_ADMIN, LAB_ADMIN_PASSWORD)).ports;
    const want = (['h1', 'h2'] as const).map((host) => ({ host, present: ports.filter((p) => p['binding:host_id'] === host && p['binding:profile'].kind === 'tap').map((p) => tapName(p.id)), absent: [] }));
    expect(await waitConverged(want, RECOVERY_BOUND_MS), 'both hosts hold every tap port').toBeDefined();
    for (let i = 0; i < 100; i++) {
      const now = (await api<{ ports: { status: string }[] }>('GET', '/v2.0/ports', undefined, LAB_ADMIN, LAB_ADMIN_PASSWORD)).ports;
      if (now.every((p) => p.status === 'ACTIVE' || p.status === 'DOWN')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const layout = readHaLayout()!;
    const nc = await connectBus({ url: layout.nats.urls, seedFile: seedPath(layout.nats.credsDir, CONTROLLER_USER), name: 'test-agree' });
    try {
      const kv = await new Kvm(nc).open(BUCKET);
      for (const host of ['h1', 'h2']) {
        const bound = ports.filter((p) => p['binding:host_id'] === host).map((p) => `${host}.port.${p.id}`).sort();
        const keys: string[] = [];
        for await (const k of await kv.keys(`${host}.port.>`)) keys.push(k);
        expect(keys.sort(), `the bucket holds exactly ${host}'s ports`).toEqual(bound);
      }
    } finally {
      await nc.close();
    }
  }

  it('comes up with one command; status shows every part healthy and one publisher', async () => {
    expect(labNamespaces(), 'a lab is already running here: plumb lab down first').toEqual([]);
    const up = await plumb('lab', 'up', '--ha');
    expect(up.status, up.stderr).toBe(0);
    expect(up.stdout).toMatch(/HA control plane/);
    let parts = await status();
    for (let i = 0; i < 50 && ![...parts.values()].some((v) => /publishing$/.test(v)); i++) {
      await new Promise((r) => setTimeout(r, 200));
      parts = await status();
    }
    expect([...parts.keys()].sort()).toEqual(['controller-1', 'controller-2', 'haproxy', 'nats n1', 'nats n2', 'nats n3', 'postgresql']);
    for (const [part, line] of parts) expect(line, part).toMatch(/^up /);
    expect(parts.get('postgresql')).toMatch(/publishing lease held by 127\.0\.0\.1:969[78]/);
    expect([parts.get('controller-1'), parts.get('controller-2')].filter((l) => /publishing$/.test(l ?? ''))).toHaveLength(1);
    expect(parts.get('haproxy')).toMatch(/2 of 2 controllers in rotation/);
    expect(parts.get('nats n1')).toMatch(/bucket leader n\d, every replica current/);

    // the stock openstack CLI through the balancer, as with one controller
    const os = await run('openstack', ['--os-auth-type', 'http_basic', '--os-username', LAB_USER, '--os-password', LAB_PASSWORD, '--os-endpoint', CONTROLLER_URL, 'network', 'list', '-f', 'value', '-c', 'Name']);
    expect(os.stdout.trim(), os.stderr).toBe('public');

    expect((await plumb('network', 'create', '--name', 'ha')).status).toBe(0);
    net = (JSON.parse((await plumb('network', 'list', '--json')).stdout) as { name: string; id: string }[]).find((n) => n.name === 'ha')!.id;
    expect((await plumb('lab', 'server', 'create', 'a1', '--host', 'h1', '--nic', `net-id=${net}`)).status).toBe(0);
    expect((await plumb('lab', 'server', 'create', 'a2', '--host', 'h2', '--nic', `net-id=${net}`)).status).toBe(0);
    const a2 = (await api<{ ports: { device_id: string; fixed_ips: { ip_address: string }[] }[] }>('GET', '/v2.0/ports')).ports.find((p) => p.device_id === 'a2')!.fixed_ips[0]!.ip_address;
    pinger = new Observer('plab-vm-a1', 'ping', ['-D', '-n', '-i', '0.1', a2]);
    await agree();
  }, 240_000);

  it('SIGKILL of the publishing controller: the API stays up through the other, which publishes the next change', async () => {
    const parts = await status();
    const victim = (/publishing$/.test(parts.get('controller-1') ?? '') ? 'controller-1' : 'controller-2') as LabDaemon;
    let failoverMs = 0;
    let killedAt = 0;
    const answers = await churnDuring(async () => {
      await new Promise((r) => setTimeout(r, 500));
      await killDaemon(victim);
      killedAt = Date.now();
      const port = await createTap('kc');
      const converged = await waitConverged([{ host: 'h1', present: [tapName(port)], absent: [] }], RECOVERY_BOUND_MS);
      expect(converged, 'a port created after the kill reaches h1').toBeDefined();
      failoverMs = (converged ?? 0) - killedAt;
      await new Promise((r) => setTimeout(r, 500));
    });
    console.log(`HA lab: ${victim} (publishing) SIGKILLed; next change on its host ${failoverMs} ms after the kill; answers through haproxy ${JSON.stringify(Object.fromEntries(answers))}`);
    // only the request the dead controller was serving can fail (haproxy never sends a request
    // twice); every one sent after the kill is answered by the other
    const failed = answers.sent.filter((a) => a.status !== 201);
    expect(failed.length).toBeLessThanOrEqual(1);
    for (const f of failed) expect(f.at, 'a failed request was sent before the kill').toBeLessThanOrEqual(killedAt);
    expect(answers.sent.filter((a) => a.at > killedAt && a.status === 201).length).toBeGreaterThan(0);
    const after = await status();
    expect(after.get(victim)).toMatch(/^DOWN .*haproxy: DOWN/);
    expect(after.get(victim === 'controller-1' ? 'controller-2' : 'controller-1')).toMatch(/^up .*haproxy: UP, publishing$/);
    await startDaemon(victim);
    await agree();
  }, 120_000);

  it('SIGKILL of PostgreSQL: 503 with Retry-After while it is away, nothing half-applied, both controllers resume', async () => {
    const before = await hostLinks('h1');
    let resumedMs = 0;
    const answers = await churnDuring(async () => {
      await new Promise((r) => setTimeout(r, 500));
      await killDaemon('postgres');
      await new Promise((r) => setTimeout(r, 1500));
      await startDaemon('postgres');
      const back = Date.now();
      const port = await createTap('kp');
      const converged = await waitConverged([{ host: 'h1', present: [tapName(port)], absent: [] }], RECOVERY_BOUND_MS);
      expect(converged, 'a port created after the database returned reaches h1').toBeDefined();
      resumedMs = (converged ?? 0) - back;
    });
    console.log(`HA lab: PostgreSQL SIGKILLed for 1.5 s; a change applied on its host ${resumedMs} ms after it was started again; answers through haproxy ${JSON.stringify(Object.fromEntries(answers))}`);
    expect(answers.get(503) ?? 0).toBeGreaterThan(0);
    expect([...answers.keys()].every((s) => s === 201 || s === 503)).toBe(true);
    // nothing on h1 was rebuilt
    const after = await hostLinks('h1');
    for (const [name, index] of before) expect(after.get(name), name).toBe(index);
    await agree();
  }, 120_000);

  it('SIGKILL of the NATS node leading the bucket: the hosts converge on the others, and it catches up', async () => {
    const layout = readHaLayout()!;
    const nc = await connectBus({ url: layout.nats.urls, seedFile: seedPath(layout.nats.credsDir, CONTROLLER_USER), name: 'test-leader' });
    const jsm = await jetstreamManager(nc, { timeout: 2000 });
    try {
      const leader = (await jsm.streams.info(STREAM)).cluster?.leader ?? '';
      const victim = `nats-${leader.slice(1)}` as LabDaemon;
      let failoverMs = 0;
      const answers = await churnDuring(async () => {
        await new Promise((r) => setTimeout(r, 500));
        await killDaemon(victim);
        const killedAt = Date.now();
        const port = await createTap('kn', 'h2');
        const converged = await waitConverged([{ host: 'h2', present: [tapName(port)], absent: [] }], RECOVERY_BOUND_MS);
        expect(converged, 'a port created after the kill reaches h2').toBeDefined();
        failoverMs = (converged ?? 0) - killedAt;
        await startDaemon(victim);
      });
      console.log(`HA lab: NATS ${leader} (the bucket's leader) SIGKILLed; next change on its host ${failoverMs} ms after the kill; answers through haproxy ${JSON.stringify(Object.fromEntries(answers))}`);
      expect([...answers.keys()]).toEqual([201]);
      let replicas = (await jsm.streams.info(STREAM)).cluster?.replicas ?? [];
      for (let i = 0; i < 100 && !(replicas.length === 2 && replicas.every((r) => r.current && !r.lag)); i++) {
        await new Promise((r) => setTimeout(r, 100));
        replicas = (await jsm.streams.info(STREAM)).cluster?.replicas ?? [];
      }
      expect(replicas.every((r) => r.current && !r.lag), JSON.stringify(replicas)).toBe(true);
    } finally {
      await nc.close();
    }
    await agree();
  }, 120_000);

  it('the VMs lost no packet through all three drills; goes down leaving nothing behind', async () => {
    await pinger.stop();
    const ping = pingStats(pinger.lines);
    console.log(`HA lab: ping a1 -> a2 across hosts through the drills: ${ping.received}/${ping.transmitted}, lost ${ping.lost}`);
    expect(ping.transmitted).toBeGreaterThan(100);
    expect(ping.lost).toBe(0);
    const down = await plumb('lab', 'down');
    expect(down.status).toBe(0);
    expect(labNamespaces()).toEqual([]);
  }, 60_000);
});
