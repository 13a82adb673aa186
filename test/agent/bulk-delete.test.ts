// Device deletions in bulk (src/agent/execute.ts deleteLinks): plumb's doomed devices go into its
// deletion group and one RTM_DELLINK by group removes them. On the real kernel: exactly the
// intended devices go, a device plumb did not put in the group survives (even a foreign one in
// the group), a crash between the two steps converges, and the event loop keeps running while
// the kernel unregisters devices (the requests that wait in the kernel are sent from the pool).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openKernelHandle } from '../../src/kernel/handle.js';
import type { KernelHandle, Link } from '../../src/kernel/types.js';
import { execute } from '../../src/agent/execute.js';
import type { Op } from '../../src/agent/ops.js';
import { DELETE_GROUP, parseOwnerAlias } from '../../src/agent/ownership.js';
import { ObservedCache } from '../../src/agent/observed-cache.js';
import { Reconciler } from '../../src/agent/reconciler.js';
import { validateHostState } from '../../src/state/validate.js';
import { Netns, ipIn, ipJson, sh } from '../helpers/netns.js';
import { loopDuring } from '../helpers/event-loop.js';

const netns = new Netns();
let ns: string;
let handle: KernelHandle;
let calls: { del: number; delGroup: number };

/** The handle, counting deletions by device and by group. */
function counting(h: KernelHandle): KernelHandle {
  return new Proxy(h, {
    get(target, prop, receiver) {
      if (prop === 'linkDel') return (i: number) => (calls.del++, target.linkDel(i));
      if (prop === 'linkDelGroup') return (g: number) => (calls.delGroup++, target.linkDelGroup(g));
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** `ip tuntap add` for each name, in one ip process; `alias` marks them plumb's. */
function addTaps(names: readonly string[], alias?: (name: string) => string): void {
  execBatch(names.flatMap((n) => [`tuntap add ${n} mode tap`, ...(alias ? [`link set ${n} alias ${alias(n)}`] : [])]));
}

/** `ip -batch -` in the test namespace. */
function execBatch(lines: readonly string[]): void {
  sh('ip', ['-n', ns, '-batch', '-'], { input: `${lines.join('\n')}\n` });
}

function deviceGroups(): Map<string, string> {
  const out = ipJson<{ ifname: string; group?: string }[]>(ns, 'link', 'show');
  return new Map(out.map((l) => [l.ifname, String(l.group ?? 'default')]));
}

const delOps = (links: readonly Link[], names: readonly string[]): Op[] =>
  links.filter((l) => names.includes(l.name)).map((l) => ({ kind: 'linkDel', link: l, owner: parseOwnerAlias(l.alias) ?? { kind: 'port', id: l.name } }));

beforeAll(async () => {
  ns = netns.add('pt-bd');
  handle = await openKernelHandle({ netns: ns });
});
afterEach(() => {
  calls = { del: 0, delGroup: 0 };
});
afterAll(() => {
  handle?.close();
  netns.cleanup();
});

describe('bulk device deletion', () => {
  it('removes exactly the intended devices with one group deletion', async () => {
    calls = { del: 0, delGroup: 0 };
    const doomed = Array.from({ length: 30 }, (_, i) => `bd${i}`);
    const kept = ['bk0', 'bk1'];
    addTaps([...doomed, ...kept], (n) => `plumb:port:${n}`);
    execBatch(['tuntap add fx0 mode tap']); // not plumb's
    const h = counting(handle);
    const links = await h.linkList();
    const res = await execute(h, delOps(links, doomed), links);
    expect(res.failures).toEqual([]);
    expect(calls).toEqual({ del: 0, delGroup: 1 });
    const left = deviceGroups();
    for (const n of doomed) expect(left.has(n)).toBe(false);
    for (const n of [...kept, 'fx0', 'lo']) expect(left.get(n)).toBe('default');
    execBatch(['link del bk0', 'link del bk1', 'link del fx0']);
  });

  it('never deletes a device it did not put in the group: a foreign one there makes it delete one by one', async () => {
    calls = { del: 0, delGroup: 0 };
    const doomed = ['bd-a', 'bd-b', 'bd-c', 'bd-d'];
    addTaps(doomed, (n) => `plumb:port:${n}`);
    execBatch(['tuntap add fx1 mode tap', `link set dev fx1 group ${DELETE_GROUP}`]); // an operator's, in plumb's group
    const h = counting(handle);
    const links = await h.linkList();
    const res = await execute(h, delOps(links, doomed), links);
    expect(res.failures).toEqual([]);
    expect(calls).toEqual({ del: doomed.length, delGroup: 0 });
    const left = deviceGroups();
    for (const n of doomed) expect(left.has(n)).toBe(false);
    expect(left.get('fx1')).toBe(String(DELETE_GROUP));
    execBatch(['link del fx1']);
  });

  it('converges after a crash between moving devices into the group and deleting it', async () => {
    // ports of a CUSTOM network (an operator bridge): their taps are plain plumb devices
    ipIn(ns, 'link', 'add', 'br-c', 'type', 'bridge');
    const port = (id: string) => ({ id, network: 'c1', mac: `aa:00:00:00:02:0${id.slice(-1)}`, ifname: id });
    const doc = (ports: unknown[]) => ({
      schemaVersion: 1,
      generation: 1,
      host: { name: 'h1', underlay: { device: 'lo', address: '127.0.0.1' }, tapOwner: 0 },
      networks: [{ id: 'c1', type: 'CUSTOM', bridge: 'br-c' }],
      ports,
    });
    const all = ['cr1', 'cr2', 'cr3', 'cr4', 'cr5'];
    const r = new Reconciler(handle);
    expect((await r.reconcile(validateHostState(doc(all.map(port))))).converged).toBe(true);
    const before = new Map((await handle.linkList()).map((l) => [l.name, l.index]));
    // the crashed pass had doomed all five and moved them into the group; now cr1 and cr2 are
    // desired again (the VMs came back), the rest are still unwanted
    execBatch(all.map((n) => `link set dev ${n} group ${DELETE_GROUP}`));
    calls = { del: 0, delGroup: 0 };
    const after = await new Reconciler(counting(handle)).reconcile(validateHostState(doc(['cr1', 'cr2'].map(port))));
    expect(after.converged).toBe(true);
    expect(calls).toEqual({ del: 0, delGroup: 1 }); // cr1, cr2 left the group before the deletion checked it
    const left = deviceGroups();
    for (const n of ['cr3', 'cr4', 'cr5']) expect(left.has(n)).toBe(false);
    for (const n of ['cr1', 'cr2']) expect(left.get(n)).toBe('default');
    const now = new Map((await handle.linkList()).map((l) => [l.name, l.index]));
    expect(now.get('cr1')).toBe(before.get('cr1')); // kept, not recreated
    expect(now.get('cr2')).toBe(before.get('cr2'));
    expect((await new Reconciler(handle).reconcile(validateHostState(doc(['cr1', 'cr2'].map(port))))).writes).toBe(0);
    expect((await new Reconciler(handle).reconcile(validateHostState(doc([])))).converged).toBe(true);
    ipIn(ns, 'link', 'del', 'br-c');
  });
});

describe('the event loop while the kernel deletes devices', () => {
  // Sent from the main thread, each tap deletion held the event loop ~16 ms inside sendmsg: 200
  // of them kept it busy ~3 s (utilisation 1.0), or stalled it ~3 s when sent in one datagram.
  // The property is that the loop keeps turning and the main thread is free while the kernel
  // works, not a speed: the bug stalled it ~3 s; 1 s separates that from a loaded machine.
  const BOUND_MS = 1000;

  it('stays responsive during 200 tap deletions in bulk (agent path: notification-fed cache)', async () => {
    const names = Array.from({ length: 200 }, (_, i) => `bl${i}`);
    addTaps(names, (n) => `plumb:port:${n}`);
    const cache = new ObservedCache(handle);
    try {
      const links = await cache.currentLinks();
      const { stallMs: lag } = await loopDuring(() => execute(handle, delOps(links, names), links, () => cache.currentLinks()));
      console.log(`bulk delete of 200 taps: longest event-loop stall ${lag.toFixed(1)} ms`);
      expect(lag).toBeLessThan(BOUND_MS);
      const left = deviceGroups();
      expect(names.filter((n) => left.has(n))).toEqual([]);
    } finally {
      cache.close();
    }
  });

  it('stays responsive during 200 tap deletions one by one (each from the thread pool)', async () => {
    const names = Array.from({ length: 200 }, (_, i) => `bs${i}`);
    addTaps(names);
    const links = (await handle.linkList()).filter((l) => names.includes(l.name));
    const { stallMs: lag, elu } = await loopDuring(() => Promise.all(links.map((l) => handle.linkDel(l.index))));
    console.log(`200 tap deletions one by one: longest event-loop stall ${lag.toFixed(1)} ms, utilisation ${elu.toFixed(2)}`);
    expect(lag).toBeLessThan(BOUND_MS);
    expect(elu).toBeLessThan(0.5); // ~0.05 measured; 1.0 when each sendmsg ran on the main thread
    const left = deviceGroups();
    expect(names.filter((n) => left.has(n))).toEqual([]);
  }, 60_000);
});
