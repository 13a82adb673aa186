// The controller on PostgreSQL against SQLite, and one instance against two, in the same run
// (issue 13): port creation with address allocation, open loop at --rate over 64 connections
// (latency from each request's scheduled send time, coordinated omission corrected), and the
// closed-loop saturation throughput; a no-op node:http server is the baseline. Two instances
// share the load connection by connection (what haproxy's round robin does). PostgreSQL runs in a
// temporary directory with synchronous_commit off, the durability SQLite has as plumb runs it
// (WAL, synchronous=NORMAL: a crash of the process loses nothing, one of the machine may lose the
// last moments, never half a unit); --fsync-commit measures PostgreSQL with every commit flushed.
//   npx tsx scripts/bench-ha.ts [--rate 1000] [--seconds 10] [--warmup 2] [--ports 3000] [--clients 64] [--fsync-commit]
import { createServer } from 'node:http';
import { Worker } from 'node:worker_threads';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseControllerConfig } from '../src/controller/config.js';
import { PostgresStore } from '../src/controller/pg-store.js';
import { startController, type RunningController } from '../src/controller/server.js';
import { PostgresServer } from '../src/lab/postgres.js';

const { values } = parseArgs({
  options: {
    ports: { type: 'string', default: '3000' },
    clients: { type: 'string', default: '64' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    'fsync-commit': { type: 'boolean', default: false },
    pool: { type: 'string', default: '8' },
  },
});
const [TOTAL, CLIENTS, RATE, SECONDS, WARMUP] = [values.ports, values.clients, values.rate, values.seconds, values.warmup].map(Number) as [number, number, number, number, number];
const auth = `Basic ${Buffer.from('bench:bench').toString('base64')}`;

interface LoadResult {
  count: number;
  rate: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  firstError?: string;
}

let runSeq = 0;
function load(urls: string[], bodyKind: 'noop' | 'port', mode: 'open' | 'closed', networkId = ''): Promise<LoadResult> {
  const idPrefix = `vm${runSeq++}-`;
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./load-worker.mjs', import.meta.url), { workerData: { urls, mode, total: TOTAL, rate: RATE, seconds: SECONDS, warmup: WARMUP, clients: CLIENTS, auth, bodyKind, networkId, idPrefix } });
    w.once('message', (m: LoadResult) => resolve(m));
    w.once('error', reject);
  });
}

const cfg = (store: Record<string, unknown>) =>
  parseControllerConfig({ listen: '127.0.0.1:0', ...store, users: [{ name: 'bench', password: 'bench', project: 'bench' }], quotas: { networks: 50, devicesPerNetwork: 1_000_000, nicsPerDevice: 100_000 } });

async function network(url: string, n: number): Promise<string> {
  const res = await fetch(`${url}/v2.0/networks`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify({ network: { name: `bench${n}`, cidr: `10.${100 + n * 2}.0.0/15` } }) });
  return ((await res.json()) as { network: { id: string } }).network.id;
}

const noop = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(201, { 'content-type': 'application/json' }).end('{"port":{}}'));
});
await new Promise<void>((r) => noop.listen(0, '127.0.0.1', r));
const noopUrl = `http://127.0.0.1:${(noop.address() as { port: number }).port}/`;

const dir = mkdtempSync(join(tmpdir(), 'plumb-bench-ha-'));
const pg = await PostgresServer.create({ synchronousCommit: values['fsync-commit'] });
const sqlite = await startController(cfg({ database: join(dir, 'c.db') }));
const store = { store: { type: 'postgresql', url: pg.url, poolSize: Number(values.pool) } };
const pgA = await startController(cfg(store));
const pgB = await startController(cfg(store));

type Row = { label: string; open: LoadResult; closed: LoadResult };
const rows: Row[] = [];
let nets = 0;
async function measure(label: string, ctls: RunningController[] | 'noop'): Promise<void> {
  const urls = ctls === 'noop' ? [noopUrl] : ctls.map((c) => `${c.url}/v2.0/ports`);
  // a fresh network (a /15) per measurement: allocation starts from the same point every time
  const open = await load(urls, ctls === 'noop' ? 'noop' : 'port', 'open', ctls === 'noop' ? '' : await network((ctls[0] as RunningController).url, nets++));
  const closed = await load(urls, ctls === 'noop' ? 'noop' : 'port', 'closed', ctls === 'noop' ? '' : await network((ctls[0] as RunningController).url, nets++));
  rows.push({ label, open, closed });
}
await measure('baseline no-op node:http', 'noop');
await measure('SQLite, one controller', [sqlite]);
await measure('PostgreSQL, one controller', [pgA]);
await measure('PostgreSQL, two controllers', [pgA, pgB]);
const retries = [pgA, pgB].map((c) => (c.service.store as PostgresStore).retries);
await Promise.all([sqlite.close(), pgA.close(), pgB.close()]);
await pg.remove();
noop.close();
rmSync(dir, { recursive: true, force: true });

const ms = (x: number): string => x.toFixed(2);
console.log(`ports with address allocation, ${CLIENTS} connections; PostgreSQL ${values['fsync-commit'] ? 'with every commit flushed (synchronous_commit on)' : 'with synchronous_commit off (SQLite NORMAL\'s durability)'}`);
console.log(`open loop at ${RATE}/s for ${SECONDS} s after ${WARMUP} s warm-up (latency from the schedule), and closed loop (${TOTAL} back to back):`);
for (const r of rows) {
  console.log(`  ${r.label.padEnd(30)} open: ${r.open.rate.toFixed(0)}/s p50 ${ms(r.open.p50)} ms p99 ${ms(r.open.p99)} ms max ${ms(r.open.max)} ms errors ${r.open.errors}${r.open.firstError ? ` (${r.open.firstError})` : ''} | closed: ${r.closed.rate.toFixed(0)}/s p99 ${ms(r.closed.p99)} ms errors ${r.closed.errors}`);
}
const by = (l: string): Row => rows.find((r) => r.label.startsWith(l)) as Row;
const one = by('PostgreSQL, one');
const two = by('PostgreSQL, two');
const met = one.open.rate >= 0.99 * RATE && RATE >= 1000 && one.open.p99 <= 30 && one.open.errors === 0;
console.log(`target one instance on PostgreSQL >= 1000 ports/s with p99 <= 30 ms: ${met ? 'met' : 'NOT met'} (p99 ${ms(one.open.p99)} ms, ${(one.open.p99 / by('SQLite').open.p99).toFixed(2)}x SQLite's, ${(one.open.p99 / by('baseline').open.p99).toFixed(2)}x the no-op baseline's)`);
console.log(`two instances / one (closed-loop throughput): ${(two.closed.rate / one.closed.rate).toFixed(2)}x (target >= 1.6x); units run again after a collision: ${retries.join(' + ')}`);
