// The notification-fed observed state must equal what fresh dumps read, after every kind of
// change made behind its back (by `ip`, as an operator would): links added, renamed, taken down
// and deleted, plumb-owned routes, rules, permanent and proxy neighbours, VXLAN FDB entries.
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openKernelHandle } from '../../src/kernel/handle.js';
import type { KernelHandle } from '../../src/kernel/types.js';
import { ObservedCache } from '../../src/agent/observed-cache.js';
import { observe, type Observed } from '../../src/agent/observe.js';
import { isOwnedRoute, isOwnedRule } from '../../src/agent/ownership.js';
import { Netns, ipIn, sh } from '../helpers/netns.js';

const netns = new Netns();
let ns: string;
let handle: KernelHandle;
let cache: ObservedCache;

beforeEach(async () => {
  ns = netns.add('pt-oc');
  handle = await openKernelHandle({ netns: ns });
  cache = new ObservedCache(handle);
});
afterEach(() => {
  cache.close();
  handle.close();
  netns.cleanup();
});
afterAll(() => netns.cleanup());

/** Both views reduced to what the cache promises to keep, in a comparable order. */
function comparable(o: Observed) {
  const sort = <T>(xs: T[]): string[] => xs.map((x) => JSON.stringify(x)).sort();
  return {
    links: sort(o.links.map((l) => ({ index: l.index, name: l.name, up: l.up, mtu: l.mtu, alias: l.alias, master: l.masterIndex, kind: l.kind }))),
    routes: sort(o.routes.filter(isOwnedRoute)),
    rules: sort(o.rules.filter(isOwnedRule)),
    neighs: sort(o.neighs.filter((n) => n.proxy || n.state === 'permanent')),
    fdb: sort([...o.fdb.entries()]),
    sysctls: sort([...o.sysctls.entries()]),
  };
}

async function expectCacheMatchesKernel(sysctls: string[] = []): Promise<void> {
  // what the agent does every 400 ms: proxy entries are not notified, so it polls them
  await cache.proxiesChanged();
  const links = await cache.currentLinks();
  const cached = await cache.observed(links, sysctls);
  const freshLinks = await handle.linkList();
  const fresh = await observe(handle, freshLinks, sysctls);
  expect(comparable(cached)).toEqual(comparable(fresh));
}

describe('observed state kept from notifications', () => {
  it('matches fresh dumps after links, routes, rules and neighbours change behind its back', async () => {
    await expectCacheMatchesKernel(); // the first read is a full one
    const resyncs = cache.resyncs;
    expect(resyncs).toBe(1);

    ipIn(ns, 'link', 'add', 'br0', 'type', 'bridge');
    ipIn(ns, 'link', 'set', 'br0', 'alias', 'plumb:net:x');
    ipIn(ns, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1');
    ipIn(ns, 'link', 'set', 'v0', 'master', 'br0');
    ipIn(ns, 'link', 'set', 'v0', 'up');
    ipIn(ns, 'link', 'set', 'v1', 'up');
    ipIn(ns, 'link', 'set', 'v0', 'mtu', '1400');
    ipIn(ns, 'route', 'add', '198.51.100.7/32', 'dev', 'v1', 'proto', '146');
    ipIn(ns, 'route', 'add', '198.51.100.8/32', 'dev', 'v1', 'proto', '146', 'table', '300');
    ipIn(ns, '-6', 'route', 'add', '2001:db8::7/128', 'dev', 'v1', 'proto', '146');
    ipIn(ns, 'route', 'add', '198.51.100.9/32', 'dev', 'v1'); // not plumb's: never cached
    ipIn(ns, 'rule', 'add', 'priority', '20000', 'iif', 'v1', 'table', '300', 'protocol', '146');
    ipIn(ns, 'neigh', 'add', '198.51.100.7', 'lladdr', '02:00:00:00:00:07', 'dev', 'v1', 'nud', 'permanent');
    ipIn(ns, 'neigh', 'add', 'proxy', '198.51.100.7', 'dev', 'v0');
    await expectCacheMatchesKernel(['net/ipv4/conf/v1/proxy_arp']);

    // changes made by hand: a route replaced, a permanent neighbour changed, a rule deleted,
    // a sysctl written by plumb (forgotten, so read again)
    ipIn(ns, 'route', 'replace', '198.51.100.7/32', 'dev', 'v0', 'proto', '146');
    ipIn(ns, 'neigh', 'replace', '198.51.100.7', 'lladdr', '02:00:00:00:00:99', 'dev', 'v1', 'nud', 'permanent');
    ipIn(ns, 'rule', 'del', 'priority', '20000', 'iif', 'v1', 'table', '300');
    ipIn(ns, 'neigh', 'del', 'proxy', '198.51.100.7', 'dev', 'v0');
    handle.sysctlSet('net/ipv4/conf/v1/proxy_arp', '1');
    cache.forgetSysctls(['net/ipv4/conf/v1/proxy_arp']);
    await expectCacheMatchesKernel(['net/ipv4/conf/v1/proxy_arp']);

    // admin down flushes IPv4 routes without a notification per route; delete flushes the rest
    ipIn(ns, 'link', 'set', 'v1', 'down');
    await expectCacheMatchesKernel();
    ipIn(ns, 'link', 'set', 'v1', 'up');
    ipIn(ns, 'route', 'add', '198.51.100.10/32', 'dev', 'v1', 'proto', '146');
    ipIn(ns, 'link', 'del', 'v0'); // takes v1 with it
    await expectCacheMatchesKernel(['net/ipv4/conf/v1/proxy_arp']);

    // a renamed device: its sysctl paths are read again under the new name
    ipIn(ns, 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1');
    await expectCacheMatchesKernel(['net/ipv4/conf/d0/proxy_arp', 'net/ipv4/conf/e0/proxy_arp']);
    ipIn(ns, 'link', 'set', 'd0', 'name', 'e0');
    await expectCacheMatchesKernel(['net/ipv4/conf/d0/proxy_arp', 'net/ipv4/conf/e0/proxy_arp']);

    // all of it from notifications: no further full read
    expect(cache.resyncs).toBe(resyncs);
  });

  it('reads proxy entries only when they may have changed, not on every pass', async () => {
    ipIn(ns, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p1');
    ipIn(ns, 'link', 'set', 'p0', 'up');
    ipIn(ns, 'neigh', 'add', 'proxy', '198.51.100.70', 'dev', 'p0');
    cache.invalidate();
    const proxiesOf = async (): Promise<string[]> => (await cache.observed(await cache.currentLinks(), [])).neighs.filter((n) => n.proxy).map((n) => n.address);
    expect(await proxiesOf()).toContain('198.51.100.70');
    const dumps = cache.proxyDumps;
    await proxiesOf();
    await proxiesOf();
    expect(cache.proxyDumps).toBe(dumps); // unchanged: kept
    expect(await cache.proxiesChanged()).toBe(false);
    // a hand-made change is found by the poll, and the next pass reads them again
    ipIn(ns, 'neigh', 'add', 'proxy', '198.51.100.71', 'dev', 'p0');
    expect(await cache.proxiesChanged()).toBe(true);
    expect(await proxiesOf()).toEqual(expect.arrayContaining(['198.51.100.70', '198.51.100.71']));
    expect(cache.proxyDumps).toBe(dumps + 1);
    // plumb's own neighbour writes make the next pass read them
    cache.forgetProxies();
    await proxiesOf();
    expect(cache.proxyDumps).toBe(dumps + 2);
    // a device going down takes its proxy entries with it: read again without a poll
    ipIn(ns, 'link', 'set', 'p0', 'down');
    expect(await proxiesOf()).not.toContain('198.51.100.70');
    ipIn(ns, 'link', 'del', 'p0');
  });

  it('keeps VXLAN head-end replication entries from notifications', async () => {
    ipIn(ns, 'link', 'add', 'und0', 'type', 'veth', 'peer', 'name', 'und1');
    ipIn(ns, 'addr', 'add', '10.77.0.1/24', 'dev', 'und0');
    ipIn(ns, 'link', 'set', 'und0', 'up');
    ipIn(ns, 'link', 'add', 'vx0', 'type', 'vxlan', 'id', '77', 'local', '10.77.0.1', 'dev', 'und0', 'dstport', '4789', 'nolearning');
    ipIn(ns, 'link', 'set', 'vx0', 'alias', 'plumb:net:x');
    await expectCacheMatchesKernel();
    ipIn(ns, 'link', 'set', 'vx0', 'up');
    sh('bridge', ['-n', ns, 'fdb', 'append', '00:00:00:00:00:00', 'dev', 'vx0', 'dst', '10.77.0.2', 'self', 'permanent']);
    sh('bridge', ['-n', ns, 'fdb', 'append', '00:00:00:00:00:00', 'dev', 'vx0', 'dst', '10.77.0.3', 'self', 'permanent']);
    await expectCacheMatchesKernel();
    sh('bridge', ['-n', ns, 'fdb', 'del', '00:00:00:00:00:00', 'dev', 'vx0', 'dst', '10.77.0.2', 'self']);
    await expectCacheMatchesKernel();
    const links = await cache.currentLinks();
    const vx = links.find((l) => l.name === 'vx0');
    const fdb = (await cache.observed(links, [])).fdb.get(vx?.index ?? -1);
    expect(fdb?.map((e) => e.dst)).toEqual(['10.77.0.3']);
    ipIn(ns, 'link', 'del', 'vx0');
    await expectCacheMatchesKernel();
    expect(cache.resyncs).toBe(1);
  });

  it('reads everything again after invalidate()', async () => {
    await expectCacheMatchesKernel();
    cache.invalidate();
    await expectCacheMatchesKernel();
    expect(cache.resyncs).toBe(2);
  });
});
