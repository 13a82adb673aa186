// Bus latency: controller hooks change → the host's watcher emits the full desired state with
// that change, one port added per step, against a real nats-server on loopback. Baseline in the
// same run: a bare KV put → KV watch delivery of one key (what NATS itself costs).
//   npx tsx scripts/bench-bus.ts [steps=500]
import { Kvm } from '@nats-io/kv';
import { startNatsServer } from '../src/bus/nats-server.js';
import { connectBus } from '../src/bus/connection.js';
import { CONTROLLER_USER, seedPath } from '../src/bus/credentials.js';
import { inboxPrefix } from '../src/bus/layout.js';
import { DesiredStatePublisher } from '../src/bus/publisher.js';
import { watchHostState } from '../src/bus/watcher.js';
import { FakeHooks, hostDoc } from '../test/bus/fake-hooks.js';

const steps = Number(process.argv[2] ?? 500);
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;
const fmt = (xs: number[]): string => `p50 ${pct(xs, 50).toFixed(2)} ms, p99 ${pct(xs, 99).toFixed(2)} ms`;
const mac = (i: number): string => `aa:00:01:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;

const server = await startNatsServer({ hosts: ['h1'] });
try {
  const controller = await connectBus({ url: server.url, seedFile: seedPath(server.credsDir, CONTROLLER_USER), name: 'controller' });
  const agent = await connectBus({ url: server.url, seedFile: seedPath(server.credsDir, 'h1'), name: 'h1', inboxPrefix: inboxPrefix('h1') });
  const hooks = new FakeHooks();
  const ports: { id: string; mac: string }[] = [];
  hooks.set('h1', hostDoc('h1', 0, ports));
  const publisher = new DesiredStatePublisher(controller, hooks);
  await publisher.start();

  // plumb: one port added per step, timed until the watcher's document contains it
  let waiting: { id: string; resolve: () => void } | undefined;
  const watch = await watchHostState(agent, 'h1', (d) => {
    const doc = d as { ports: { id: string }[] };
    if (waiting && doc.ports.some((p) => p.id === waiting?.id)) waiting.resolve();
  }, { coalesceMs: 0 });
  const plumb: number[] = [];
  for (let i = 1; i <= steps; i++) {
    const id = `p${i}`;
    ports.push({ id, mac: mac(i) });
    const seen = new Promise<void>((resolve) => (waiting = { id, resolve }));
    const t0 = performance.now();
    hooks.set('h1', hostDoc('h1', i, ports));
    await seen;
    plumb.push(performance.now() - t0);
  }
  const puts = publisher.puts;

  // baseline: bare KV put → watch delivery of one key on the same server
  const kv = await new Kvm(controller).open('plumb-desired');
  let pending: { key: string; resolve: () => void } | undefined;
  const iter = await kv.watch({ key: 'base.>' });
  void (async () => {
    for await (const e of iter) if (pending && e.key === pending.key) pending.resolve();
  })();
  const base: number[] = [];
  for (let i = 1; i <= steps; i++) {
    const key = `base.k${i}`;
    const seen = new Promise<void>((resolve) => (pending = { key, resolve }));
    const t0 = performance.now();
    await kv.put(key, JSON.stringify({ i, mac: mac(i) }));
    await seen;
    base.push(performance.now() - t0);
  }
  iter.stop();

  console.log(`steps: ${steps} (ports on the host grow 1 → ${steps})`);
  console.log(`KV writes by the publisher: ${puts} (${(puts / steps).toFixed(2)} per step; expected 2: the new port and the meta key)`);
  console.log(`baseline  bare KV put → watch:                ${fmt(base)}`);
  console.log(`plumb     hooks change → full state at agent: ${fmt(plumb)}`);
  console.log(`ratio plumb/baseline: p50 ${(pct(plumb, 50) / pct(base, 50)).toFixed(2)}x, p99 ${(pct(plumb, 99) / pct(base, 99)).toFixed(2)}x`);
  console.log(`plumb p50 first 50 steps ${pct(plumb.slice(0, 50), 50).toFixed(2)} ms vs last 50 ${pct(plumb.slice(-50), 50).toFixed(2)} ms (document size growth)`);
  await watch.stop();
  await publisher.stop();
  await agent.close();
  await controller.close();
} finally {
  await server.destroy();
}
