// Requests made in the same tick go out in one datagram (src/kernel/rtnl/batch.ts): each still
// gets its own outcome, errors typed as before, and a failing request does not fail the others.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openKernelHandle } from '../../src/kernel/handle.js';
import { DeviceFullError, ExistsError, NotFoundError } from '../../src/kernel/errors.js';
import type { KernelHandle } from '../../src/kernel/types.js';
import { Netns, ipIn, ipJson, sh } from '../helpers/netns.js';

const netns = new Netns();
let ns: string;
let handle: KernelHandle;

beforeAll(async () => {
  ns = netns.add('pt-kb');
  handle = await openKernelHandle({ netns: ns });
});
afterAll(() => {
  handle.close();
  netns.cleanup();
});

describe('batched rtnetlink requests', () => {
  it('hundreds of requests in one tick each succeed, as the kernel then shows', async () => {
    const names = Array.from({ length: 300 }, (_, i) => `kb${i}`);
    await Promise.all(names.map((name) => handle.linkAdd({ kind: 'bridge', name, mtu: 1400, alias: `plumb:net:${name}` })));
    const links = ipJson<{ ifname: string; mtu: number; ifalias?: string }[]>(ns, 'link', 'show', 'type', 'bridge');
    expect(links.map((l) => l.ifname).sort()).toEqual([...names].sort());
    expect(links.every((l) => l.mtu === 1400)).toBe(true);
    expect(links.find((l) => l.ifname === 'kb7')?.ifalias).toBe('plumb:net:kb7');
  });

  it('a failing request rejects with its own typed error and leaves the others in its datagram alone', async () => {
    const links = await handle.linkList();
    const kb1 = links.find((l) => l.name === 'kb1');
    const kb2 = links.find((l) => l.name === 'kb2');
    expect(kb1 && kb2).toBeTruthy();
    const results = await Promise.allSettled([
      handle.linkSet(kb1?.index ?? 0, { mtu: 1300 }),
      handle.linkAdd({ kind: 'bridge', name: 'kb2', mtu: 1400, alias: 'plumb:net:kb2' }), // exists
      handle.linkDel(999_999), // no such device
      handle.linkSet(kb2?.index ?? 0, { mtu: 1300 }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(ExistsError);
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(NotFoundError);
    const after = ipJson<{ ifname: string; mtu: number }[]>(ns, 'link', 'show', 'type', 'bridge');
    expect(after.find((l) => l.ifname === 'kb1')?.mtu).toBe(1300);
    expect(after.find((l) => l.ifname === 'kb2')?.mtu).toBe(1300);
  });

  it('taps created concurrently (more than run at once) all exist, enslaved and up from their creation', async () => {
    await handle.linkAdd({ kind: 'bridge', name: 'kcbr', mtu: 1500, alias: 'plumb:net:kc', up: true });
    const bridge = (await handle.linkList()).find((l) => l.name === 'kcbr');
    const names = Array.from({ length: 12 }, (_, i) => `kc${i}`);
    await Promise.all(names.map((name) => handle.linkAdd({ kind: 'tap', name, mtu: 1400, alias: `plumb:port:${name}`, owner: 0, group: undefined, multiQueue: false, vnetHdr: true, masterIndex: bridge?.index ?? 0, up: true })));
    const links = ipJson<{ ifname: string; mtu: number; ifalias?: string; master?: string; flags: string[] }[]>(ns, 'link', 'show', 'master', 'kcbr');
    expect(links.map((l) => l.ifname).sort()).toEqual([...names].sort());
    for (const l of links) {
      expect(l).toMatchObject({ mtu: 1400, ifalias: `plumb:port:${l.ifname}`, master: 'kcbr' });
      expect(l.flags).toContain('UP');
    }
  });

  it('enslaving a 1,024th port to a bridge fails with DeviceFullError naming the limit', async () => {
    // Linux numbers bridge ports with 10 bits (port 0 unused): 1,023 at most. libuv has no name
    // for EXFULL, which once surfaced as "EIO (Unknown system error -54)".
    const batch = ['link add kfull type bridge', ...Array.from({ length: 1024 }, (_, i) => `tuntap add kf${i} mode tap`), ...Array.from({ length: 1023 }, (_, i) => `link set kf${i} master kfull`)];
    sh('ip', ['-n', ns, '-batch', '-'], { input: `${batch.join('\n')}\n` });
    const links = await handle.linkList();
    const bridge = links.find((l) => l.name === 'kfull');
    const extra = links.find((l) => l.name === 'kf1023');
    const err = await handle.linkSet(extra?.index ?? 0, { masterIndex: bridge?.index ?? 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeviceFullError);
    expect((err as Error).message).toMatch(/EXFULL \(the master device has no free port: a Linux bridge takes at most 1023 ports\)/);
    expect(ipIn(ns, 'link', 'show', 'kf1023')).not.toMatch(/master/);
    sh('ip', ['-n', ns, 'link', 'del', 'kfull']);
  });

  it('device deletions are sent from the thread pool: the event loop keeps turning meanwhile', async () => {
    // Each deletion waits inside the kernel's sendmsg (RCU grace periods under RTNL); sent from
    // the main thread they would hold the event loop: no DHCP answer, no heartbeat.
    const taps = Array.from({ length: 40 }, (_, i) => `kd${i}`);
    for (const name of taps) await handle.linkAdd({ kind: 'tap', name, mtu: 1500, alias: 'plumb:port:x', owner: undefined, group: undefined, multiQueue: false, vnetHdr: true });
    const links = (await handle.linkList()).filter((l) => taps.includes(l.name));
    expect(links).toHaveLength(taps.length);
    let turns = 0;
    let spinning = true;
    const spin = (): void => {
      turns += 1;
      if (spinning) setImmediate(spin);
    };
    setImmediate(spin);
    await Promise.all(links.map((l) => handle.linkDel(l.index)));
    spinning = false;
    expect(turns).toBeGreaterThanOrEqual(taps.length);
    expect((await handle.linkList()).filter((l) => taps.includes(l.name))).toEqual([]);
  });
});
