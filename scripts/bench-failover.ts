// Failover of the HA lab's control plane (issue 13): --drills times each, SIGKILL of
//   the controller holding the publishing lease  (measured from the kill),
//   the NATS node leading the desired-state bucket (from the kill),
//   a NATS node not leading it, each of the other two in turn (from the kill),
//   PostgreSQL, started again after --db-away-ms (from its start),
// to the next change applied on a host: a tap port created through haproxy (retried as a client
// does on 503 or a refused connection) until its device is in h1's kernel (polled every 10 ms).
// Baselines in the same run: the same change with nothing killed; for NATS, the time until the
// bucket's stream has a new leader (what NATS alone needs before anyone can write); for the
// database, the time from its start to it accepting connections. Targets: < 2 s each.
// Brings the HA lab up (plumb lab up --ha) unless it is up, and down again if it did.
//   npx tsx scripts/bench-failover.ts [--drills 10] [--db-away-ms 1000]
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectBus } from '../src/bus/connection.js';
import { CONTROLLER_USER, seedPath } from '../src/bus/credentials.js';
import { STREAM } from '../src/bus/layout.js';
import { authHeader, LAB_PROJECT, LAB_SERVICE, LAB_SERVICE_PASSWORD, waitForController } from '../src/lab/controller.js';
import { killDaemon, startDaemon, tapName, waitConverged, type LabDaemon } from '../src/lab/drills.js';
import { readHaLayout } from '../src/lab/ha.js';
import { haHealth } from '../src/lab/ha-status.js';
import { CONTROLLER_URL } from '../src/lab/layout.js';
import { PLUMB_BIN } from '../src/lab/processes.js';
import { labIsUp } from '../src/lab/up.js';

const { values } = parseArgs({ options: { drills: { type: 'string', default: '10' }, 'db-away-ms': { type: 'string', default: '1000' } } });
const DRILLS = Number(values.drills);
const DB_AWAY_MS = Number(values['db-away-ms']);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)] ?? NaN;
const stats = (xs: number[]): string => `p50 ${pct(xs, 50)} ms, p99 ${pct(xs, 99)} ms, max ${Math.max(...xs)} ms (n=${xs.length})`;
const plumb = (...args: string[]): string => execFileSync(process.execPath, [PLUMB_BIN, ...args], { encoding: 'utf8' });

const broughtUp = !labIsUp();
if (broughtUp) plumb('lab', 'up', '--ha');
const layout = readHaLayout();
if (!layout) throw new Error('the lab is up without --ha: plumb lab down, then run this again');
await waitForController();
plumb('network', 'create', '--name', 'failover');
const net = (JSON.parse(plumb('network', 'list', '--json')) as { id: string; name: string }[]).find((n) => n.name === 'failover')?.id as string;

let seq = 0;
/** A tap port on h1 through the balancer, retried until created; resolves when its device is in h1's kernel. */
async function change(): Promise<number> {
  const device = `fo${seq++}`;
  let id: string | undefined;
  while (!id) {
    try {
      const res = await fetch(`${CONTROLLER_URL}/v2.0/ports`, {
        method: 'POST',
        headers: { authorization: authHeader(LAB_SERVICE, LAB_SERVICE_PASSWORD), 'content-type': 'application/json' },
        body: JSON.stringify({ port: { network_id: net, device_id: device, project_id: LAB_PROJECT, 'binding:host_id': 'h1', 'binding:profile': { kind: 'tap' } } }),
      });
      if (res.status === 201) id = ((await res.json()) as { port: { id: string } }).port.id;
      else await sleep(50);
    } catch {
      await sleep(50);
    }
  }
  const at = await waitConverged([{ host: 'h1', present: [tapName(id)], absent: [] }], 60_000);
  if (at === undefined) throw new Error(`port ${id} never reached h1`);
  return at;
}

async function healthy(): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const parts = await haHealth(layout!);
    if (parts.every((p) => p.up) && parts.some((p) => /publishing/.test(p.detail)) && /every replica current/.test(parts.find((p) => p.part === 'nats n1')?.detail ?? '')) return;
    await sleep(100);
  }
  throw new Error('the HA control plane did not become healthy again within 30 s');
}

const bus = await connectBus({ url: layout.nats.urls, seedFile: seedPath(layout.nats.credsDir, CONTROLLER_USER), name: 'bench-failover' });
const jsm = await jetstreamManager(bus, { timeout: 2000 });
const leaderNode = async (): Promise<LabDaemon> => `nats-${((await jsm.streams.info(STREAM)).cluster?.leader ?? 'n1').slice(1)}` as LabDaemon;

const steady: number[] = [];
const controller: number[] = [];
const nats: number[] = [];
const natsBare: number[] = [];
const natsFollower: number[] = [];
const db: number[] = [];
const dbAccepting: number[] = [];
for (let i = 0; i < DRILLS; i++) {
  await healthy();
  let t = Date.now();
  steady.push((await change()) - t);

  // the controller that publishes
  const holder = (await haHealth(layout)).find((p) => /publishing/.test(p.detail))?.part as LabDaemon;
  await killDaemon(holder);
  t = Date.now();
  controller.push((await change()) - t);
  await startDaemon(holder);
  await healthy();

  // the NATS node leading the bucket; when the stream has a new leader, in the same drill
  const node = await leaderNode();
  const killedLeader = `n${node.slice(5)}`;
  await killDaemon(node);
  t = Date.now();
  const bare = (async () => {
    for (;;) {
      try {
        const leader = (await jsm.streams.info(STREAM)).cluster?.leader;
        if (leader && leader !== killedLeader) return Date.now() - t;
      } catch {
        // no answer while the stream has no leader
      }
      await sleep(20);
    }
  })();
  nats.push((await change()) - t);
  natsBare.push(await bare);
  await startDaemon(node);
  await healthy();

  // a node that does not lead the bucket (it may lead an agent's watch consumer, or hold
  // clients' connections, which move to the other nodes)
  const leader = await leaderNode();
  const follower = (['nats-1', 'nats-2', 'nats-3'] as LabDaemon[]).filter((n) => n !== leader)[i % 2] as LabDaemon;
  await killDaemon(follower);
  t = Date.now();
  natsFollower.push((await change()) - t);
  await startDaemon(follower);
  await healthy();

  // the database, away for DB_AWAY_MS
  await killDaemon('postgres');
  await sleep(DB_AWAY_MS);
  t = Date.now();
  const accepting = (async () => {
    for (;;) {
      const c = new pg.Client({ connectionString: layout.postgres.url, connectionTimeoutMillis: 500 });
      try {
        await c.connect();
        await c.end();
        return Date.now() - t;
      } catch {
        await sleep(10);
      }
    }
  })();
  await startDaemon('postgres');
  db.push((await change()) - t);
  dbAccepting.push(await accepting);
  console.log(`drill ${i + 1}/${DRILLS}: controller ${controller.at(-1)} ms, NATS ${nats.at(-1)} ms (new stream leader after ${natsBare.at(-1)} ms), NATS follower ${natsFollower.at(-1)} ms, database ${db.at(-1)} ms (accepting after ${dbAccepting.at(-1)} ms); steady ${steady.at(-1)} ms`);
}
await bus.close();
console.log(`next change applied on a host (tap in h1's kernel), ${DRILLS} drills each:`);
console.log(`  baseline, nothing killed:                  ${stats(steady)}`);
console.log(`  publishing controller SIGKILLed:           ${stats(controller)}  (target < 2 s: ${Math.max(...controller) < 2000 ? 'met' : 'NOT met'})`);
console.log(`  NATS node leading the bucket SIGKILLed:    ${stats(nats)}  (target < 2 s: ${Math.max(...nats) < 2000 ? 'met' : 'NOT met'})`);
console.log(`    baseline, the bucket's stream has a new leader:             ${stats(natsBare)}`);
console.log(`  NATS node not leading the bucket SIGKILLed: ${stats(natsFollower)}  (target < 2 s: ${Math.max(...natsFollower) < 2000 ? 'met' : 'NOT met'})`);
console.log(`  PostgreSQL SIGKILLed, from its start:      ${stats(db)}  (target < 2 s: ${Math.max(...db) < 2000 ? 'met' : 'NOT met'})`);
console.log(`    baseline, PostgreSQL accepting connections after its start: ${stats(dbAccepting)}`);
if (broughtUp) plumb('lab', 'down');
