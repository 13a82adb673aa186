// The observed kernel state kept current from rtnetlink notifications, as controller-runtime's
// informer caches are: one full read (dumps) at start, after lost notifications and on every
// periodic resync, and in between only the notifications, so a pass over 1,000 ports does not
// dump 1,000 links, routes and neighbours to change one. Each pass first waits for a fence:
// every notification generated before it (its own previous writes included) has been applied.
//
// What the kernel does not notify is read every pass or kept with care:
//  - proxy neighbour entries: never notified; read with a proxy-only dump when a pass needs them
//    and they may have changed: after a full read, after plumb wrote neighbours, after a device
//    was deleted or went down (the kernel drops its entries), and when the agent's poll
//    (proxiesChanged, every 400 ms) saw a difference — not on every pass;
//  - IPv4 routes flushed with their device (delete or admin down): not notified; dropped from
//    the cache with the device's own notification;
//  - sysctls: not notified; read once per path, forgotten when plumb writes them or their device
//    comes or goes, and re-read at every full resync.
import type { FdbEntry, KernelEvent, KernelHandle, Link, Neigh, Route, Rule } from '../kernel/types.js';
import type { Observed } from './observe.js';
import { isOwnedLink, isOwnedRoute, isOwnedRule } from './ownership.js';

const routeKey = (r: Route): string => `${r.family}|${r.table}|${r.dst}|${r.metric}`;
const ruleKey = (r: Rule): string => `${r.family}|${r.priority}|${r.iifName ?? ''}|${r.table}`;
const neighKey = (n: Neigh): string => `${n.family}|${n.ifIndex}|${n.address}`;
const fdbKey = (e: FdbEntry): string => `${e.ifIndex}|${e.mac}|${e.dst}`;

const proxyFingerprint = (ns: readonly Neigh[]): string => ns.map(neighKey).sort().join(',');

/** The device a sysctl path names (`net/ipv4/conf/<dev>/...`), if any. */
const sysctlDevice = (path: string): string | undefined => (path.includes('/conf/') ? path.split('/')[3] : undefined);

export class ObservedCache {
  private readonly links = new Map<number, Link>();
  // Only what the diff can own or must see: plumb's routes and rules, permanent neighbours,
  // FDB entries with a remote. Everything else (neighbour churn, kernel routes) is dropped.
  private readonly routes = new Map<string, Route>();
  private readonly rules = new Map<string, Rule>();
  private readonly neighs = new Map<string, Neigh>();
  private readonly fdb = new Map<string, FdbEntry>();
  private readonly sysctls = new Map<string, string | undefined>();
  private readonly sysctlsByDevice = new Map<string, Set<string>>();
  private valid = false;
  /** Notifications arriving during a full read, applied on top of it in order. */
  private buffered: KernelEvent[] | undefined;
  private readonly unsubscribe: () => void;
  /** Full reads since start (tests and metrics). */
  resyncs = 0;

  /** The proxy entries the last pass saw, to tell when someone changed them (no notification). */
  private proxySeen: string | undefined;
  /** The proxy entries as last dumped; undefined: dump them at the next pass. */
  private proxies: Neigh[] | undefined;
  /** Proxy-only dumps made by passes (tests). */
  proxyDumps = 0;

  constructor(private readonly handle: KernelHandle) {
    this.unsubscribe = handle.subscribe((e) => this.onEvent(e));
  }

  close(): void {
    this.unsubscribe();
  }

  /** The next pass reads everything from the kernel again. */
  invalidate(): void {
    this.valid = false;
    this.proxies = undefined;
  }

  /** plumb wrote neighbour entries: the next pass reads the proxy entries again. */
  forgetProxies(): void {
    this.proxies = undefined;
  }

  /** Forget sysctl values plumb just wrote (or tried to): they are read again next pass. */
  forgetSysctls(paths: Iterable<string>): void {
    for (const p of paths) this.sysctls.delete(p);
  }

  private rememberSysctl(path: string, value: string | undefined): void {
    this.sysctls.set(path, value);
    const dev = sysctlDevice(path);
    if (dev === undefined) return;
    let set = this.sysctlsByDevice.get(dev);
    if (!set) this.sysctlsByDevice.set(dev, (set = new Set()));
    set.add(path);
  }

  /** Current links, after every earlier notification was applied (full read when invalid). */
  async currentLinks(): Promise<Link[]> {
    await this.handle.fence();
    if (!this.valid) await this.resync();
    return [...this.links.values()];
  }

  /** The rest of the observed state for the links just returned by currentLinks(). */
  async observed(links: Link[], sysctlPaths: Iterable<string>): Promise<Observed> {
    const ownedVxlans = new Set(links.filter((l) => l.kind === 'vxlan' && isOwnedLink(l)).map((l) => l.index));
    let proxies = this.proxies;
    if (!proxies) {
      proxies = await this.handle.proxyNeighList();
      this.proxyDumps += 1;
      this.proxies = proxies;
      this.proxySeen = proxyFingerprint(proxies);
    }
    const fdb = new Map<number, FdbEntry[]>([...ownedVxlans].map((i) => [i, []]));
    for (const e of this.fdb.values()) fdb.get(e.ifIndex)?.push(e);
    const paths = [...new Set(sysctlPaths)];
    const unknown = paths.filter((p) => !this.sysctls.has(p));
    if (unknown.length > 0) {
      const found = this.handle.sysctlGet(unknown);
      for (const p of unknown) this.rememberSysctl(p, found.get(p));
    }
    const sysctls = new Map<string, string | undefined>(paths.map((p) => [p, this.sysctls.get(p)]));
    return { links, routes: [...this.routes.values()], rules: [...this.rules.values()], neighs: [...this.neighs.values(), ...proxies], fdb, sysctls };
  }

  /**
   * Whether the proxy entries differ from what the last pass saw. The kernel sends no
   * notification for them, so the agent polls this (one small dump) to repair a hand-deleted
   * proxy entry within a second, as it does for everything that is notified.
   */
  async proxiesChanged(): Promise<boolean> {
    if (this.proxySeen === undefined) return false;
    const changed = proxyFingerprint(await this.handle.proxyNeighList()) !== this.proxySeen;
    if (changed) this.proxies = undefined;
    return changed;
  }

  private async resync(): Promise<void> {
    this.buffered = [];
    this.proxies = undefined;
    try {
      const [links, routes, rules, neighs, fdb] = await Promise.all([
        this.handle.linkList(),
        this.handle.routeList(),
        this.handle.ruleList(),
        this.handle.neighList(),
        this.handle.fdbList(),
      ]);
      this.links.clear();
      this.routes.clear();
      this.rules.clear();
      this.neighs.clear();
      this.fdb.clear();
      this.sysctls.clear();
      this.sysctlsByDevice.clear();
      for (const l of links) this.links.set(l.index, l);
      for (const r of routes) if (isOwnedRoute(r)) this.routes.set(routeKey(r), r);
      for (const r of rules) if (isOwnedRule(r)) this.rules.set(ruleKey(r), r);
      for (const n of neighs) if (!n.proxy && n.state === 'permanent') this.neighs.set(neighKey(n), n);
      for (const e of fdb) this.fdb.set(fdbKey(e), e);
      const pending = this.buffered;
      this.buffered = undefined;
      for (const e of pending) this.apply(e);
      this.valid = true;
      this.resyncs += 1;
    } finally {
      this.buffered = undefined;
    }
  }

  private onEvent(e: KernelEvent): void {
    if (this.buffered) this.buffered.push(e);
    else if (this.valid) this.apply(e);
  }

  private apply(e: KernelEvent): void {
    if (e.lost) {
      this.valid = false;
      return;
    }
    const o = e.object;
    // no object: something plumb does not model (addresses, bridge FDB learning, multicast
    // routes); nothing cached depends on it
    if (!o) return;
    switch (o.kind) {
      case 'link':
        return this.applyLink(o.link, e.deleted);
      case 'route': {
        const k = routeKey(o.route);
        if (!e.deleted && isOwnedRoute(o.route)) this.routes.set(k, o.route);
        else this.routes.delete(k);
        return;
      }
      case 'rule': {
        const k = ruleKey(o.rule);
        if (!e.deleted && isOwnedRule(o.rule)) this.rules.set(k, o.rule);
        else this.rules.delete(k);
        return;
      }
      case 'neigh': {
        if (o.neigh.proxy) return;
        const k = neighKey(o.neigh);
        if (!e.deleted && o.neigh.state === 'permanent') this.neighs.set(k, o.neigh);
        else this.neighs.delete(k);
        return;
      }
      case 'fdb': {
        const k = fdbKey(o.fdb);
        if (e.deleted) this.fdb.delete(k);
        else this.fdb.set(k, o.fdb);
        return;
      }
    }
  }

  private applyLink(link: Link, deleted: boolean): void {
    const before = this.links.get(link.index);
    if (deleted) {
      this.proxies = undefined; // its proxy entries went with it
      this.links.delete(link.index);
      this.dropDeviceObjects(link.index, true);
      this.forgetDeviceSysctls(link.name);
      return;
    }
    this.links.set(link.index, link);
    // IPv4 drops a device's routes when it goes down, without a notification per route
    if (before?.up && !link.up) this.dropDeviceObjects(link.index, false);
    // the kernel drops a device's proxy entries when it goes down or loses carrier (neigh_ifdown)
    if ((before?.up && !link.up) || (before?.carrier && !link.carrier)) this.proxies = undefined;
    if (!before || before.name !== link.name) {
      this.forgetDeviceSysctls(link.name);
      if (before) this.forgetDeviceSysctls(before.name);
    }
  }

  private dropDeviceObjects(index: number, gone: boolean): void {
    for (const [k, r] of this.routes) if (r.oifIndex === index) this.routes.delete(k);
    if (!gone) return;
    for (const [k, n] of this.neighs) if (n.ifIndex === index) this.neighs.delete(k);
    for (const [k, f] of this.fdb) if (f.ifIndex === index) this.fdb.delete(k);
  }

  private forgetDeviceSysctls(dev: string): void {
    for (const p of this.sysctlsByDevice.get(dev) ?? []) this.sysctls.delete(p);
    this.sysctlsByDevice.delete(dev);
  }
}
