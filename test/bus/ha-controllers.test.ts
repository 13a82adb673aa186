// Two `plumb controller run` processes on one PostgreSQL and one nats-server: exactly one holds
// the publishing lease; a change made through either reaches the bus; SIGKILL of the holder hands
// the lease to the other, which publishes the next change; agents' reports are taken by whichever
// is alive; a host's generation in the bucket never goes backwards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Kvm, type KV } from '@nats-io/kv';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectBus } from '../../src/bus/connection.js';
import { CONTROLLER_USER, seedPath } from '../../src/bus/credentials.js';
import { BUCKET, inboxPrefix, statusSubject } from '../../src/bus/layout.js';
import { startNatsServer, type NatsServer } from '../../src/bus/nats-server.js';
import { PostgresServer } from '../../src/lab/postgres.js';
import { caller } from '../controller/fixture.js';
import { LogTail, spawnPlumb, tempDir, waitUntil } from '../helpers/topology.js';

let pgServer: PostgresServer;
let nats: NatsServer;
let bus: NatsConnection;
let kv: KV;
const children: ChildProcess[] = [];
/** h1's generations in the order the bucket delivered them */
const generations: number[] = [];
const keys = new Set<string>();

interface Instance {
  child: ChildProcess;
  log: LogTail;
  url: string;
}

async function startInstance(config: string): Promise<Instance> {
  const child = spawnPlumb(['controller', 'run', '--config', config]);
  children.push(child);
  const log = new LogTail(child);
  const line = await log.waitFor((l) => l.msg === 'controller listening', 30_000);
  return { child, log, url: String(line.url) };
}

const holds = (i: Instance): boolean => i.log.lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('holding the publishing lease'));

beforeAll(async () => {
  [pgServer, nats] = await Promise.all([PostgresServer.create({ fsync: false }), startNatsServer({ hosts: ['h1'] })]);
  bus = await connectBus({ url: nats.url, seedFile: seedPath(nats.credsDir, CONTROLLER_USER), name: 'test-watcher' });
}, 60_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await bus?.close();
  await nats?.destroy();
  await pgServer?.remove();
});

describe('two controllers on one PostgreSQL publishing to one bus', () => {
  it('one publisher at a time, changes through either reach the bus, SIGKILL of the holder hands over, generations never go backwards', async () => {
    const dir = tempDir();
    const config = join(dir, 'controller.yaml');
    writeFileSync(
      config,
      [
        'listen: 127.0.0.1:0',
        `store: { type: postgresql, url: "${pgServer.url}", poolSize: 8 }`,
        'privateNetworks: { enabledTypes: [MAC_FILTERED], cidrRange: 192.168.0.0/16 }',
        'publicNetworks: []',
        'users: [{ name: admin, password: a, project: admin, roles: [admin] }, { name: nova, password: pw-n, project: service, roles: [service] }, { name: alice, password: pw-a, project: p1 }]',
        `nats: { url: ${nats.url}, seedFile: ${seedPath(nats.credsDir, CONTROLLER_USER)} }`,
        '',
      ].join('\n'),
    );
    const [a, b] = await Promise.all([startInstance(config), startInstance(config)]);
    await waitUntil(() => holds(a) || holds(b), 10_000);
    await new Promise((r) => setTimeout(r, 500));
    expect([holds(a), holds(b)].filter(Boolean)).toHaveLength(1); // never both
    const [leader, follower] = holds(a) ? [a, b] : [b, a];

    kv = await new Kvm(jetstream(bus)).open(BUCKET);
    const watch = await kv.watch({ key: 'h1.>' });
    void (async () => {
      for await (const e of watch) {
        if (e.operation !== 'PUT') {
          keys.delete(e.key);
          continue;
        }
        keys.add(e.key);
        if (e.key === 'h1.meta') generations.push((JSON.parse(e.string()) as { generation: number }).generation);
      }
    })();

    const alice = caller(follower.url, 'alice', 'pw-a');
    const net = (await alice('POST', '/v2.0/networks', { network: { name: 'n' } })).body.network as { id: string };
    const bind = async (via: Instance, device: string): Promise<{ id: string; ms: number }> => {
      const t0 = Date.now();
      const r = await caller(via.url, 'nova', 'pw-n')('POST', '/v2.0/ports', { port: { project_id: 'p1', network_id: net.id, device_id: device, 'binding:host_id': 'h1' } });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      const id = r.body.port.id as string;
      await waitUntil(() => keys.has(`h1.port.${id}`), 10_000);
      return { id, ms: Date.now() - t0 };
    };
    // through the instance that does not publish, then through the one that does
    const viaFollower = await bind(follower, 'vm-f');
    const viaLeader = await bind(leader, 'vm-l');
    console.log(`change to bucket: ${viaFollower.ms} ms through the follower, ${viaLeader.ms} ms through the lease holder`);

    // an agent's report reaches the store through whichever controller NATS hands it to
    const h1 = await connectBus({ url: nats.url, seedFile: seedPath(nats.credsDir, 'h1'), name: 'h1', inboxPrefix: inboxPrefix('h1') });
    const report = (ids: string[]): void => h1.publish(statusSubject('h1'), JSON.stringify({ generation: generations.at(-1) ?? 0, ports: ids.map((id) => ({ id, status: 'ACTIVE', revision: 1 })) }));
    report([viaFollower.id, viaLeader.id]);
    await h1.flush();
    const status = async (id: string, via: Instance): Promise<string> => (await caller(via.url, 'alice', 'pw-a')('GET', `/v2.0/ports/${id}`)).body.port.status as string;
    for (let i = 0; i < 100 && ((await status(viaFollower.id, follower)) !== 'ACTIVE' || (await status(viaLeader.id, follower)) !== 'ACTIVE'); i++) await new Promise((r) => setTimeout(r, 50));
    expect([await status(viaFollower.id, follower), await status(viaLeader.id, leader)]).toEqual(['ACTIVE', 'ACTIVE']);

    // the lease holder dies: the survivor takes the lease and publishes the next change
    leader.child.kill('SIGKILL');
    const killedAt = Date.now();
    const afterKill = await bind(follower, 'vm-after');
    const failoverMs = Date.now() - killedAt;
    await waitUntil(() => holds(follower), 5_000);
    console.log(`controller SIGKILLed: the next change reached the bucket ${failoverMs} ms after the kill`);
    report([afterKill.id]);
    await h1.flush();
    for (let i = 0; i < 100 && (await status(afterKill.id, follower)) !== 'ACTIVE'; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await status(afterKill.id, follower)).toBe('ACTIVE');
    await h1.close();

    // the bucket and the store agree, and h1's generation only ever went up
    const bound = ((await caller(follower.url, 'admin', 'a')('GET', '/v2.0/ports')).body.ports as { id: string; 'binding:host_id': string }[]).filter((p) => p['binding:host_id'] === 'h1');
    await waitUntil(() => bound.every((p) => keys.has(`h1.port.${p.id}`)), 5_000);
    expect([...keys].filter((k) => k.startsWith('h1.port.')).sort()).toEqual(bound.map((p) => `h1.port.${p.id}`).sort());
    expect(generations.length).toBeGreaterThan(2);
    expect(generations).toEqual([...generations].sort((x, y) => x - y));
    watch.stop();
  }, 120_000);
});
