// The controller on PostgreSQL against SQLite, and one instance against two, in the same run
// (issue 13): port creation with address allocation, open loop at --rate over 64 connections
// (latency from each request's scheduled send time, coordinated omission corrected), and the
// closed-loop saturation throughput; a no-op node:http server is the baseline. Every controller
// is a process of its own (`plumb controller run`, as deployed), so two instances have two event
// loops; they share the load connection by connection (what haproxy's round robin does). The CPU
// each part used per port (controllers, PostgreSQL's backends, the load generator) is read from
// /proc, with the store's statements per unit from the controllers' metrics: on a machine with
// few cores these say where the ceiling comes from. PostgreSQL runs in a temporary directory
// with synchronous_commit off, the durability SQLite has as plumb runs it (WAL,
// synchronous=NORMAL: a crash of the process loses nothing, one of the machine may lose the last
// moments, never half a unit); --fsync-commit measures PostgreSQL with every commit flushed.
//   npx tsx scripts/bench-ha.ts [--rate 1000] [--seconds 10] [--warmup 2] [--ports 3000] [--clients 64] [--pool 8] [--fsync-commit]
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import { Worker } from 'node:worker_threads';
import { mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../src/bus/nats-server.js';
import { waitForController } from '../src/lab/controller.js';
import { PostgresServer } from '../src/lab/postgres.js';
import { procCpu } from './proc-cpu.js';

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

const dir = mkdtempSync(join(tmpdir(), 'plumb-bench-ha-'));

interface Instance {
  url: string;
  metrics: string;
  child: ChildProcess;
}

/** One `plumb controller run` process on `store`, answering on a free port. */
async function controller(name: string, store: Record<string, unknown>): Promise<Instance> {
  const [api, metrics] = [await freePort(), await freePort()];
  const cfg = join(dir, `${name}.json`);
  writeFileSync(cfg, JSON.stringify({ listen: `127.0.0.1:${api}`, metrics: { listen: `127.0.0.1:${metrics}` }, store, users: [{ name: 'bench', password: 'bench', project: 'bench' }], quotas: { networks: 50, devicesPerNetwork: 1_000_000, nicsPerDevice: 100_000 } }), { mode: 0o600 });
  const out = openSync(join(dir, `${name}.log`), 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'controller', 'run', '--config', cfg], { stdio: ['ignore', out, out], env: { ...process.env, PLUMB_LOG_LEVEL: 'warn' } });
  const url = `http://127.0.0.1:${api}`;
  await waitForController(30_000, url);
  return { url, metrics: `http://127.0.0.1:${metrics}/metrics`, child };
}

async function counter(i: Instance, name: string): Promise<number> {
  const text = await (await fetch(i.metrics)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

/** CPU time (ms) of the given processes, of every postgres process and of this one. */
function cpuMs(pids: number[]): { controllers: number; postgres: number; bench: number } {
  const ms = (pid: number | string): number => (procCpu(pid)?.seconds ?? 0) * 1000;
  let postgres = 0;
  for (const p of readdirSync('/proc')) {
    const x = /^\d+$/.test(p) ? procCpu(p) : undefined;
    if (x?.comm.startsWith('postgres')) postgres += x.seconds * 1000;
  }
  return { controllers: pids.reduce((a, p) => a + ms(p), 0), postgres, bench: ms(process.pid) };
}

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

const pg = await PostgresServer.create({ synchronousCommit: values['fsync-commit'] });
const pgStore = { type: 'postgresql', url: pg.url, poolSize: Number(values.pool) };
const sqlite = await controller('sqlite', { type: 'sqlite', path: join(dir, 'c.db') });
const pgA = await controller('pg-a', pgStore);
const pgB = await controller('pg-b', pgStore);
const all = [sqlite, pgA, pgB];

interface PerPort {
  controllers: number;
  postgres: number;
  bench: number;
  statements: number;
}
type Row = { label: string; open: LoadResult; closed: LoadResult; cpu?: PerPort };
const rows: Row[] = [];
let nets = 0;
async function measure(label: string, ctls: Instance[] | 'noop'): Promise<void> {
  const urls = ctls === 'noop' ? [noopUrl] : ctls.map((c) => `${c.url}/v2.0/ports`);
  // a fresh network (a /15) per measurement: allocation starts from the same point every time
  const net = async (): Promise<string> => (ctls === 'noop' ? '' : network((ctls[0] as Instance).url, nets++));
  const open = await load(urls, ctls === 'noop' ? 'noop' : 'port', 'open', await net());
  const closedNet = await net();
  const pids = ctls === 'noop' ? [] : ctls.map((c) => c.child.pid as number);
  const stmts = async (): Promise<number> => (ctls === 'noop' ? 0 : (await Promise.all(ctls.map((c) => counter(c, 'plumb_controller_store_statements_total')))).reduce((a, b) => a + b, 0));
  const [c0, s0] = [cpuMs(pids), await stmts()];
  const closed = await load(urls, ctls === 'noop' ? 'noop' : 'port', 'closed', closedNet);
  const [c1, s1] = [cpuMs(pids), await stmts()];
  const n = closed.count;
  rows.push({ label, open, closed, cpu: { controllers: (c1.controllers - c0.controllers) / n, postgres: (c1.postgres - c0.postgres) / n, bench: (c1.bench - c0.bench) / n, statements: (s1 - s0) / n } });
}
let retries: number[] = [];
try {
  await measure('baseline no-op node:http', 'noop');
  await measure('SQLite, one controller', [sqlite]);
  await measure('PostgreSQL, one controller', [pgA]);
  await measure('PostgreSQL, two controllers', [pgA, pgB]);
} finally {
  retries = await Promise.all([pgA, pgB].map((c) => counter(c, 'plumb_controller_store_retries_total')));
  for (const c of all) c.child.kill('SIGTERM');
  await Promise.all(all.map((c) => new Promise((r) => (c.child.exitCode !== null ? r(undefined) : c.child.once('exit', r)))));
  await pg.remove();
  noop.close();
  rmSync(dir, { recursive: true, force: true });
}

const ms = (x: number): string => x.toFixed(2);
console.log(`ports with address allocation, ${CLIENTS} connections; PostgreSQL ${values['fsync-commit'] ? 'with every commit flushed (synchronous_commit on)' : 'with synchronous_commit off (SQLite NORMAL\'s durability)'}`);
console.log(`open loop at ${RATE}/s for ${SECONDS} s after ${WARMUP} s warm-up (latency from the schedule), and closed loop (${TOTAL} back to back):`);
for (const r of rows) {
  console.log(`  ${r.label.padEnd(30)} open: ${r.open.rate.toFixed(0)}/s p50 ${ms(r.open.p50)} ms p99 ${ms(r.open.p99)} ms max ${ms(r.open.max)} ms errors ${r.open.errors}${r.open.firstError ? ` (${r.open.firstError})` : ''} | closed: ${r.closed.rate.toFixed(0)}/s p99 ${ms(r.closed.p99)} ms errors ${r.closed.errors}`);
}
console.log('CPU per port in the closed loop (ms; 2 cores give 2 ms of CPU per ms), and statements per port besides BEGIN and COMMIT:');
for (const r of rows) {
  const c = r.cpu as PerPort;
  console.log(`  ${r.label.padEnd(30)} controllers ${ms(c.controllers)}  postgres ${ms(c.postgres)}  load generator ${ms(c.bench)}  total ${ms(c.controllers + c.postgres + c.bench)}  statements ${c.statements.toFixed(1)}`);
}
const by = (l: string): Row => rows.find((r) => r.label.startsWith(l)) as Row;
const one = by('PostgreSQL, one');
const two = by('PostgreSQL, two');
const met = one.open.rate >= 0.99 * RATE && RATE >= 1000 && one.open.p99 <= 30 && one.open.errors === 0;
console.log(`target one instance on PostgreSQL >= 1000 ports/s with p99 <= 30 ms: ${met ? 'met' : 'NOT met'} (p99 ${ms(one.open.p99)} ms, ${(one.open.p99 / by('SQLite').open.p99).toFixed(2)}x SQLite's, ${(one.open.p99 / by('baseline').open.p99).toFixed(2)}x the no-op baseline's)`);
console.log(`two instances / one (closed-loop throughput): ${(two.closed.rate / one.closed.rate).toFixed(2)}x (target >= 1.6x); units run again after a collision: ${retries.join(' + ')}`);
