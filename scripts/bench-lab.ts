// End-to-end latency in the lab (issue 5): API call -> port ACTIVE on its host, over N ports per
// scenario, with the shares separated:
//   - controller: the API call itself (IPAM + commit + response), measured by this client;
//   - agent: from the bus storing the port's entry to the end of the pass that made it ACTIVE,
//     read from the agent's own histogram (plumb_agent_port_apply_seconds, bucket bounds);
//   - total: the port's created_at (controller commit) to the moment its ACTIVE report landed
//     (updated_at), both controller timestamps.
// Scenarios: one port at a time, each waited for until ACTIVE before the next (as `plumb port
// create --wait` in a loop: the latency of one change on an otherwise idle system); open-loop
// arrival at fixed rates (requests scheduled on a clock, latency counted from the scheduled
// time, so a slow answer cannot hide queueing); and a burst of 8 clients creating as fast as
// the API answers (a saturation test: latency there is mostly queueing).
// Needs the lab up (`plumb lab up`). Ports are taps on h1, 15 NICs per device.
// Before the scenarios, --warmup ports (default 200) are created and deleted unmeasured: the
// daemons' code paths are compiled (JIT) before the first measured scenario, whichever it is.
//   npx tsx scripts/bench-lab.ts [--ports 1000] [--warmup 200] [--sequential] [--rates 50,200] [--burst 8]
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { api, bindPort } from '../src/lab/controller.js';
import { LAB_AGENT_METRICS } from '../src/lab/layout.js';

const { values } = parseArgs({
  options: { ports: { type: 'string', default: '1000' }, warmup: { type: 'string', default: '200' }, sequential: { type: 'boolean', default: false }, rates: { type: 'string', default: '50,200' }, burst: { type: 'string', default: '8' } },
});
const N = Number(values.ports);
const RATES = values.rates.split(',').filter(Boolean).map(Number);
const BURST = Number(values.burst);
type Port = { id: string; status: string; created_at: string; updated_at: string };

const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The agent's metrics page (retried once: a kept-alive connection may be closed under us). */
async function agentMetrics(): Promise<string> {
  const url = `http://${LAB_AGENT_METRICS.h1}/metrics`;
  try {
    return await (await fetch(url)).text();
  } catch {
    return (await fetch(url)).text();
  }
}

/** Cumulative bucket counts of the agent's apply histogram: le -> count. */
async function applyBuckets(): Promise<Map<number, number>> {
  const text = await agentMetrics();
  const out = new Map<number, number>();
  for (const m of text.matchAll(/^plumb_agent_port_apply_seconds_bucket\{le="([^"]+)"\} (\d+)/gm)) out.set(m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2]));
  return out;
}

/** Upper bucket bound below which a fraction p of the new observations fall. */
function bucketQuantile(before: Map<number, number>, after: Map<number, number>, p: number): string {
  const les = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  if (total === 0) return 'n/a';
  for (const le of les) if ((after.get(le) ?? 0) - (before.get(le) ?? 0) >= p * total) return le === Infinity ? '> 5 s' : `≤ ${le * 1000} ms`;
  return 'n/a';
}

async function activePorts(): Promise<number> {
  const text = await agentMetrics();
  return Number(/^plumb_agent_ports\{status="ACTIVE"\} (\d+)/m.exec(text)?.[1] ?? 0);
}

let created: string[] = [];
const lastId = (): string => created.at(-1) ?? '';

async function scenario(name: string, network: string, create: (one: (i: number, scheduledAt?: number) => Promise<void>) => Promise<void>): Promise<void> {
  const baseline = await activePorts();
  const before = await applyBuckets();
  const apiMs: number[] = [];
  const ids: string[] = [];
  created = ids;
  const started = performance.now();
  await create(async (i, scheduledAt) => {
    const t = scheduledAt ?? performance.now();
    const port = await bindPort<Port>({ network_id: network, device_id: `bench${Math.floor(i / 15)}`, 'binding:host_id': 'h1', 'binding:profile': { kind: 'tap' } });
    apiMs.push(performance.now() - t);
    ids.push(port.id);
  });
  const createSeconds = (performance.now() - started) / 1000;
  const want = new Set(ids);
  const deadline = Date.now() + 180_000;
  let ports: Port[] = [];
  for (;;) {
    ports = (await api<{ ports: Port[] }>('GET', '/v2.0/ports')).ports.filter((p) => want.has(p.id));
    if (ports.every((p) => p.status === 'ACTIVE') || Date.now() > deadline) break;
    await sleep(250);
  }
  const after = await applyBuckets();
  const total = ports.filter((p) => p.status === 'ACTIVE').map((p) => Date.parse(p.updated_at) - Date.parse(p.created_at));
  console.log(`${name}: ${ids.length} ports in ${createSeconds.toFixed(1)} s (${(ids.length / createSeconds).toFixed(0)}/s), ${total.length} ACTIVE`);
  console.log(`  controller share (API call)        p50 ${pct(apiMs, 0.5).toFixed(1)} ms  p99 ${pct(apiMs, 0.99).toFixed(1)} ms`);
  console.log(`  agent share (bus stored -> applied) p50 ${bucketQuantile(before, after, 0.5)}  p99 ${bucketQuantile(before, after, 0.99)}  (histogram buckets)`);
  console.log(`  created -> ACTIVE (end to end)      p50 ${pct(total, 0.5).toFixed(0)} ms  p99 ${pct(total, 0.99).toFixed(0)} ms  max ${Math.max(...total)} ms  (target p99 < 100 ms)`);
  // clean up and let the host settle before the next scenario
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < ids.length) await api('DELETE', `/v2.0/ports/${ids[next++]}`);
    }),
  );
  const settle = Date.now() + 120_000;
  while ((await activePorts()) > baseline && Date.now() < settle) await sleep(250);
}

const existing = (await api<{ networks: { id: string; name: string }[] }>('GET', '/v2.0/networks')).networks.find((n) => n.name === 'bench');
const network = existing ?? (await api<{ network: { id: string } }>('POST', '/v2.0/networks', { network: { name: 'bench', cidr: '10.250.0.0/21' } })).network;
console.log(`lab end to end, ${N} tap ports per scenario on h1; load average ${execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).split(' ').slice(0, 3).join(' ')}`);

const WARMUP = Number(values.warmup);
if (WARMUP > 0) {
  const made: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < WARMUP) {
      const i = next++;
      made.push((await bindPort<Port>({ network_id: network.id, device_id: `warm${Math.floor(i / 15)}`, 'binding:host_id': 'h1', 'binding:profile': { kind: 'tap' } })).id);
    }
  };
  const baseline = await activePorts();
  await Promise.all(Array.from({ length: 4 }, worker));
  const until = Date.now() + 60_000;
  while ((await activePorts()) < baseline + made.length && Date.now() < until) await sleep(250);
  for (const id of made) await api('DELETE', `/v2.0/ports/${id}`);
  while ((await activePorts()) > baseline && Date.now() < until + 60_000) await sleep(250);
}
if (values.sequential) {
  await scenario('one at a time, each waited for until ACTIVE', network.id, async (one) => {
    for (let i = 0; i < N; i++) {
      await one(i);
      const id = lastId();
      for (;;) {
        const { port } = await api<{ port: Port }>('GET', `/v2.0/ports/${id}`);
        if (port.status === 'ACTIVE') break;
        await sleep(2);
      }
    }
  });
}
for (const rate of RATES) {
  await scenario(`open loop at ${rate} ports/s`, network.id, async (one) => {
    const t0 = performance.now();
    const inflight: Promise<void>[] = [];
    for (let i = 0; i < N; i++) {
      const due = t0 + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      inflight.push(one(i, due));
    }
    await Promise.all(inflight);
  });
}
if (BURST > 0) {
  await scenario(`burst, ${BURST} clients back to back`, network.id, async (one) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: BURST }, async () => {
        while (next < N) await one(next++);
      }),
    );
  });
}
await api('DELETE', `/v2.0/networks/${network.id}`);
