// Controller benchmark (issue 3): port creation with address allocation at 64 concurrent
// clients, against a minimal no-op node:http handler measured in the same run (the ratio is the
// figure that travels between machines). Two measurements, each for plumb and for the baseline:
//   open loop   — a constant offered rate (default 1,000/s) shared by the 64 connections for
//                 --seconds after a --warmup, latency from each request's scheduled send time
//                 (wrk2-style, coordinated omission corrected): this is what the target
//                 "≥ 1,000 ports/s sustained with p99 ≤ 20 ms" is about;
//   closed loop — 64 clients back to back, --ports requests: the saturation throughput (its
//                 latency is ≈ 64 × service time by construction, so it says nothing about p99
//                 at a given load).
// The load generator is a worker thread (scripts/load-worker.mjs), off the server's event loop.
//   npx tsx scripts/bench-controller.ts [--rate 1000] [--seconds 10] [--warmup 2] [--ports 3000] [--clients 64] [--json]
import { createServer } from 'node:http';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseControllerConfig } from '../src/controller/config.js';
import { startController } from '../src/controller/server.js';

const { values } = parseArgs({
  options: {
    ports: { type: 'string', default: '3000' },
    clients: { type: 'string', default: '64' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
  },
});
const TOTAL = Number(values.ports);
const CLIENTS = Number(values.clients);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const auth = `Basic ${Buffer.from('bench:bench').toString('base64')}`;

interface LoadResult {
  /** the server's event-loop delay during the run (main thread), ms */
  loopP99?: number;
  loopMax?: number;
  /** fraction of the run the server's event loop was busy (main thread) */
  elu?: number;
  count: number;
  rate: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  errors: number;
  firstError?: string;
  late?: number;
}

let runSeq = 0;
async function load(url: string, bodyKind: 'noop' | 'port', mode: 'open' | 'closed', networkId = ''): Promise<LoadResult> {
  const idPrefix = `vm${runSeq++}-`; // every port is for a new device, like VMs booting
  // how long the server's event loop was blocked: separates the server's own stalls from CPU
  // contention (other processes on the machine) in the latency tail
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const elu0 = performance.eventLoopUtilization();
  const r = await new Promise<LoadResult>((resolve, reject) => {
    const w = new Worker(new URL('./load-worker.mjs', import.meta.url), {
      workerData: { url, mode, total: TOTAL, rate: RATE, seconds: SECONDS, warmup: WARMUP, clients: CLIENTS, auth, bodyKind, networkId, idPrefix },
    });
    w.once('message', (m: LoadResult) => resolve(m));
    w.once('error', reject);
  });
  loop.disable();
  return { ...r, loopP99: loop.percentile(99) / 1e6, loopMax: loop.max / 1e6, elu: performance.eventLoopUtilization(elu0).utilization };
}

const noop = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(201, { 'content-type': 'application/json' }).end('{"port":{}}'));
});
await new Promise<void>((r) => noop.listen(0, '127.0.0.1', r));
const noopUrl = `http://127.0.0.1:${(noop.address() as { port: number }).port}/`;

const dbDir = mkdtempSync(join(tmpdir(), 'plumb-bench-'));
const ctl = await startController(
  parseControllerConfig({
    listen: '127.0.0.1:0',
    database: join(dbDir, 'c.db'),
    users: [{ name: 'bench', password: 'bench', project: 'bench' }],
    quotas: { networks: 5, devicesPerNetwork: 100000, nicsPerDevice: 100000 },
  }),
);
const net = (await (await fetch(`${ctl.url}/v2.0/networks`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify({ network: { name: 'bench', cidr: '10.128.0.0/15' } }) })).json()) as { network: { id: string } };
const portsUrl = `${ctl.url}/v2.0/ports`;

const openBase = await load(noopUrl, 'noop', 'open');
const openPlumb = await load(portsUrl, 'port', 'open', net.network.id);
const closedBase = await load(noopUrl, 'noop', 'closed');
const closedPlumb = await load(portsUrl, 'port', 'closed', net.network.id);
await ctl.close();
noop.close();
rmSync(dbDir, { recursive: true, force: true });

const ms = (x: number): string => x.toFixed(2);
const line = (label: string, r: LoadResult, unit: string): string =>
  `  ${label}: ${r.rate.toFixed(0)} ${unit}/s, p50 ${ms(r.p50)} ms, p99 ${ms(r.p99)} ms, max ${ms(r.max)} ms, errors ${r.errors}${r.firstError ? ` (first: ${r.firstError})` : ''}${r.late !== undefined ? `, sent >1 ms late ${r.late}` : ''}; server event loop busy ${((r.elu ?? NaN) * 100).toFixed(0)} %, delay p99 ${ms(r.loopP99 ?? NaN)} ms, max ${ms(r.loopMax ?? NaN)} ms`;
if (values.json) {
  console.log(JSON.stringify({ clients: CLIENTS, open: { offered: RATE, seconds: SECONDS, warmup: WARMUP, baseline: openBase, plumb: openPlumb }, closed: { requests: TOTAL, baseline: closedBase, plumb: closedPlumb } }));
} else {
  console.log(`open loop: ${RATE}/s offered over ${CLIENTS} connections for ${SECONDS} s (after ${WARMUP} s warm-up), latency from the scheduled send time`);
  console.log(line('baseline no-op node:http', openBase, 'req'));
  console.log(line('plumb port create      ', openPlumb, 'ports'));
  const met = openPlumb.rate >= 0.99 * RATE && RATE >= 1000 && openPlumb.p99 <= 20 && openPlumb.errors === 0;
  console.log(`  target (>= 1000 ports/s sustained, p99 <= 20 ms): ${met ? 'met' : 'NOT met'}; p99 ratio to baseline ${(openPlumb.p99 / openBase.p99).toFixed(2)}x`);
  console.log(`closed loop: ${TOTAL} requests, ${CLIENTS} clients back to back (saturation throughput)`);
  console.log(line('baseline no-op node:http', closedBase, 'req'));
  console.log(line('plumb port create      ', closedPlumb, 'ports'));
  console.log(`  throughput ratio to baseline ${(closedPlumb.rate / closedBase.rate).toFixed(2)}`);
}
