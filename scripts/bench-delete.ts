// Device deletion benchmark: how long 1,000 tap deletions take, and what they cost the agent's
// event loop, in the same run:
//   - `ip -batch`: one `link del` per line, one process (the baseline);
//   - before: the previous agent path, one RTM_DELLINK per sendmsg from the main thread with a
//     turn of the event loop between them (what src/kernel/rtnl/batch.ts did until now);
//   - one by one from the pool: handle.linkDel per device (src/kernel/rtnl/offload.ts);
//   - bulk: execute() with the deletions of one phase, as a reconcile pass runs them (device
//     group + one RTM_DELLINK by group per 256 devices, src/agent/execute.ts), with the agent's
//     notification-fed cache subscribed.
// For each: wall time, the longest gap between 1 ms timers (the event loop's longest stall),
// the event loop's utilisation (share of the time the main thread was busy, not waiting), and,
// in a second round, the longest round trip of a cheap netlink write (`ip link set lo up`) sent
// every 10 ms meanwhile: RTNL is one lock for the whole host, and every writer waits for it.
//
//   npx tsx scripts/bench-delete.ts [--taps 1000] [--runs 3] [--slow-runs 1]
//
// Everything happens in a throwaway namespace. Not a test: read the figures side by side.
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { openKernelHandle } from '../src/kernel/handle.js';
import type { KernelHandle, Link } from '../src/kernel/types.js';
import { NetnsBinding } from '../src/kernel/netns.js';
import { execute } from '../src/agent/execute.js';
import type { Op } from '../src/agent/ops.js';
import { ObservedCache } from '../src/agent/observed-cache.js';
import { closeFn, recvfromFn, sendtoFn } from '../src/packet/raw.js';
import { KERNEL_ADDRESS, KERNEL_ADDRESS_LEN, openRouteSocket } from '../src/kernel/rtnl/route-socket.js';
import { loopDuring } from '../test/helpers/event-loop.js';

const { values } = parseArgs({ options: { taps: { type: 'string', default: '1000' }, runs: { type: 'string', default: '3' }, 'slow-runs': { type: 'string', default: '1' } } });
const TAPS = Number(values.taps);
const RUNS = Number(values.runs);
const SLOW_RUNS = Number(values['slow-runs']);
const ns = `pt-bdel-${process.pid}`;

interface Figures {
  ms: number;
  stallMs: number;
  elu: number;
}

function ip(args: string[], input?: string): void {
  execFileSync('ip', ['-n', ns, ...args], input === undefined ? {} : { input });
}

function makeTaps(prefix: string): string[] {
  const names = Array.from({ length: TAPS }, (_, i) => `${prefix}${i}`);
  ip(['-batch', '-'], `${names.flatMap((n) => [`tuntap add ${n} mode tap`, `link set ${n} alias plumb:port:${n}`]).join('\n')}\n`);
  return names;
}

async function measure(work: () => Promise<unknown>): Promise<Figures> {
  const figures = await loopDuring(work);
  await new Promise((r) => setTimeout(r, 5));
  return figures;
}

/** The previous path: RTM_DELLINK sent synchronously from the main thread, one per turn. */
function deleteOnMainThread(indexes: readonly number[]): Promise<void> {
  const binding = new NetnsBinding(ns);
  const { fd } = openRouteSocket(binding);
  binding.close();
  const buf = Buffer.alloc(64 * 1024);
  let i = 0;
  return new Promise((resolve) => {
    const next = (): void => {
      const index = indexes[i++];
      if (index === undefined) {
        closeFn(fd);
        return resolve();
      }
      const msg = Buffer.alloc(32);
      msg.writeUInt32LE(32, 0);
      msg.writeUInt16LE(17 /* RTM_DELLINK */, 4);
      msg.writeUInt16LE(0x5 /* REQUEST|ACK */, 6);
      msg.writeUInt32LE(i, 8);
      msg.writeInt32LE(index, 20);
      sendtoFn(fd, msg, 32, 0, KERNEL_ADDRESS, KERNEL_ADDRESS_LEN); // the kernel deletes the device in here
      recvfromFn(fd, buf, buf.length, 0x40, null, null); // its ACK, already queued
      setImmediate(next);
    };
    setImmediate(next);
  });
}

/** While `work` runs, `ip link set lo up` over netlink every 10 ms; the longest round trip. */
async function withProbe(h: KernelHandle, work: () => Promise<unknown>): Promise<number> {
  let worst = 0;
  let running = true;
  const probe = async (): Promise<void> => {
    while (running) {
      const t = performance.now();
      await h.linkSet(1, { up: true });
      worst = Math.max(worst, performance.now() - t);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const p = probe();
  try {
    await work();
  } finally {
    running = false;
    await p;
  }
  return worst;
}

const ops = (links: readonly Link[], names: ReadonlySet<string>): Op[] =>
  links.filter((l) => names.has(l.name)).map((l) => ({ kind: 'linkDel', link: l, owner: { kind: 'port', id: l.name } }));

async function main(): Promise<void> {
  execFileSync('ip', ['netns', 'add', ns]);
  const rows = new Map<string, Figures[]>();
  const probes = new Map<string, number[]>();
  const add = (k: string, f: Figures): void => void rows.set(k, [...(rows.get(k) ?? []), f]);
  const loads: number[] = [];
  try {
    ip(['link', 'set', 'lo', 'up']);
    const h = await openKernelHandle({ netns: ns });
    for (let run = 0; run < RUNS; run++) {
      loads.push(loadavg()[0] ?? NaN);
      makeTaps('ib');
      let t = performance.now();
      ip(['-batch', '-'], `${Array.from({ length: TAPS }, (_, i) => `link del ib${i}`).join('\n')}\n`);
      add('ip -batch (one process, link del per line)', { ms: performance.now() - t, stallMs: NaN, elu: NaN });

      if (run < SLOW_RUNS) {
        const names = new Set(makeTaps('mt'));
        const idx = (await h.linkList()).filter((l) => names.has(l.name)).map((l) => l.index);
        add('before: main-thread sendmsg, one per turn', await measure(() => deleteOnMainThread(idx)));
      }

      const single = new Set(makeTaps('os'));
      const singleLinks = (await h.linkList()).filter((l) => single.has(l.name));
      add('after: one by one from the thread pool', await measure(() => Promise.all(singleLinks.map((l) => h.linkDel(l.index)))));

      const bulk = new Set(makeTaps('bk'));
      const cache = new ObservedCache(h);
      const links = await cache.currentLinks();
      add('after: bulk (reconcile pass, device group)', await measure(() => execute(h, ops(links, bulk), links, () => cache.currentLinks())));
      cache.close();

      // second round: what a cheap netlink write waits meanwhile
      const pb = new Set(makeTaps('pb'));
      const pbLinks = await h.linkList();
      probes.set('bulk', [...(probes.get('bulk') ?? []), await withProbe(h, () => execute(h, ops(pbLinks, pb), pbLinks))]);
      const ps = new Set(makeTaps('ps'));
      const psLinks = (await h.linkList()).filter((l) => ps.has(l.name));
      probes.set('one by one', [...(probes.get('one by one') ?? []), await withProbe(h, () => Promise.all(psLinks.map((l) => h.linkDel(l.index))))]);
      console.log(`run ${run + 1} done (load ${loads[run]?.toFixed(2)})`);
    }
    h.close();
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  const fmt = (xs: number[], digits = 0): string => (xs.every(Number.isNaN) ? '—' : `${med(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`);
  console.log(`\n${TAPS} tap deletions, median (min–max) of ${RUNS} runs, load average ${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)}:`);
  console.log('| path | wall ms | longest event-loop stall ms | event-loop utilisation |');
  console.log('|---|---|---|---|');
  for (const [k, fs] of rows) {
    console.log(`| ${k} | ${fmt(fs.map((f) => f.ms))} | ${fmt(fs.map((f) => f.stallMs), 1)} | ${fmt(fs.map((f) => f.elu), 2)} |`);
  }
  for (const [k, xs] of probes) console.log(`longest \`ip link set lo up\` round trip during the ${k} deletion: ${fmt(xs, 1)} ms`);
}

await main();
