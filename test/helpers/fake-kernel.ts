// An in-memory KernelHandle for unit tests of the reconciler's logic: it keeps links, routes,
// rules, neighbours, FDB entries and sysctls the way the kernel would, and counts writes.
// The real kernel is exercised by test/agent/*.test.ts; this only makes the pure logic fast to test.
import type { FdbEntry, KernelEvent, KernelHandle, Link, LinkChange, LinkSpec, Neigh, Route, Rule } from '../../src/kernel/types.js';
import { ExistsError, NotFoundError } from '../../src/kernel/errors.js';
import { normalizeAddress } from '../../src/util/ip.js';

export class FakeKernel implements KernelHandle {
  links: Link[] = [];
  routes: Route[] = [];
  rules: Rule[] = [];
  neighs: Neigh[] = [];
  fdb: FdbEntry[] = [];
  sysctls = new Map<string, string>();
  writes = 0;
  announced: { ifIndex: number; address: string }[] = [];
  private nextIndex = 100;

  addForeignLink(name: string, kind: Link['kind'] = 'other', mtu = 1500): Link {
    const base = { index: this.nextIndex++, name, mtu, up: true, carrier: true, mac: '02:00:00:00:00:01', alias: undefined, masterIndex: undefined, devGroup: 0 };
    const link = (kind === 'bridge' ? { ...base, kind } : { ...base, kind: 'other', infoKind: '' }) as Link;
    this.links.push(link);
    return link;
  }

  async linkList(): Promise<Link[]> {
    return this.links.map((l) => ({ ...l }));
  }
  async linkAdd(spec: LinkSpec): Promise<void> {
    this.writes++;
    if (this.links.some((l) => l.name === spec.name)) throw new ExistsError('linkAdd', 17, 'EEXIST');
    const base = { index: this.nextIndex++, name: spec.name, mtu: spec.mtu, up: spec.up === true, carrier: false, mac: '02:00:00:00:00:99', alias: spec.alias, masterIndex: spec.masterIndex, devGroup: 0 };
    switch (spec.kind) {
      case 'bridge':
        this.links.push({ ...base, kind: 'bridge' });
        break;
      case 'vxlan':
        this.links.push({ ...base, kind: 'vxlan', vni: spec.vni, local: spec.local, underlayIndex: spec.underlayIndex, port: spec.port, learning: spec.learning });
        break;
      case 'vlan':
        this.links.push({ ...base, kind: 'vlan', vid: spec.vid, parentIndex: spec.parentIndex });
        break;
      case 'tap':
        this.links.push({ ...base, kind: 'tap', owner: spec.owner, group: spec.group, persistent: true, multiQueue: spec.multiQueue, vnetHdr: spec.vnetHdr });
        break;
      case 'veth':
        this.links.push({ ...base, kind: 'veth', peerNetnsId: 1 });
        break;
    }
  }
  async linkSet(index: number, change: LinkChange): Promise<void> {
    this.writes++;
    const l = this.links.find((x) => x.index === index);
    if (!l) throw new NotFoundError('linkSet', 19, 'ENODEV');
    if (change.mtu !== undefined) l.mtu = change.mtu;
    if (change.up !== undefined) l.up = change.up;
    if (change.alias !== undefined) l.alias = change.alias;
    if (change.masterIndex !== undefined) l.masterIndex = change.masterIndex ?? undefined;
    if (change.group !== undefined) l.devGroup = change.group;
    if (change.address !== undefined) l.mac = change.address;
  }
  async linkDel(index: number): Promise<void> {
    this.writes++;
    const l = this.links.find((x) => x.index === index);
    if (!l) throw new NotFoundError('linkDel', 19, 'ENODEV');
    this.links = this.links.filter((x) => x.index !== index);
    // like the kernel: objects on the device go with it, its ports are released
    this.routes = this.routes.filter((r) => r.oifIndex !== index);
    this.neighs = this.neighs.filter((n) => n.ifIndex !== index);
    this.fdb = this.fdb.filter((f) => f.ifIndex !== index);
    for (const x of this.links) if (x.masterIndex === index) x.masterIndex = undefined;
  }
  /** Group deletions issued (linkDelGroup), for tests of bulk deletion. */
  groupDeletes = 0;
  async linkDelGroup(group: number): Promise<void> {
    this.writes++;
    this.groupDeletes++;
    const members = this.links.filter((l) => l.devGroup === group);
    if (members.length === 0) throw new NotFoundError('linkDelGroup', 19, 'ENODEV');
    for (const l of members) await this.linkDel(l.index);
    this.writes -= members.length; // one request for the whole group
  }
  async routeList(): Promise<Route[]> {
    return this.routes.map((r) => ({ ...r }));
  }
  async routeReplace(route: Route): Promise<void> {
    this.writes++;
    this.routes = this.routes.filter((r) => !(r.family === route.family && r.table === route.table && r.dst === route.dst));
    this.routes.push({ ...route });
  }
  async routeDel(route: Route): Promise<void> {
    this.writes++;
    const before = this.routes.length;
    this.routes = this.routes.filter((r) => !(r.family === route.family && r.table === route.table && r.dst === route.dst));
    if (before === this.routes.length) throw new NotFoundError('routeDel', 3, 'ESRCH');
  }
  async ruleList(): Promise<Rule[]> {
    return this.rules.map((r) => ({ ...r }));
  }
  async ruleAdd(rule: Rule): Promise<void> {
    this.writes++;
    this.rules.push({ ...rule });
  }
  async ruleDel(rule: Rule): Promise<void> {
    this.writes++;
    const i = this.rules.findIndex((r) => r.family === rule.family && r.iifName === rule.iifName && r.table === rule.table && r.priority === rule.priority);
    if (i < 0) throw new NotFoundError('ruleDel', 2, 'ENOENT');
    this.rules.splice(i, 1);
  }
  async neighList(): Promise<Neigh[]> {
    return this.neighs.map((n) => ({ ...n }));
  }
  private neighIndex(n: Neigh): number {
    return this.neighs.findIndex((x) => x.family === n.family && x.ifIndex === n.ifIndex && x.proxy === n.proxy && normalizeAddress(x.address) === normalizeAddress(n.address));
  }
  async neighReplace(neigh: Neigh): Promise<void> {
    this.writes++;
    const i = this.neighIndex(neigh);
    if (i >= 0) this.neighs.splice(i, 1);
    this.neighs.push({ ...neigh, state: neigh.proxy ? 'other' : 'permanent' });
  }
  async neighDel(neigh: Neigh): Promise<void> {
    this.writes++;
    const i = this.neighIndex(neigh);
    if (i < 0) throw new NotFoundError('neighDel', 2, 'ENOENT');
    this.neighs.splice(i, 1);
  }
  async fdbList(): Promise<FdbEntry[]> {
    return this.fdb.map((f) => ({ ...f }));
  }
  async fdbAppend(entry: FdbEntry): Promise<void> {
    this.writes++;
    this.fdb.push({ ...entry });
  }
  async fdbDel(entry: FdbEntry): Promise<void> {
    this.writes++;
    this.fdb = this.fdb.filter((f) => !(f.ifIndex === entry.ifIndex && f.mac === entry.mac && f.dst === entry.dst));
  }
  sysctlGet(paths: readonly string[]): Map<string, string> {
    const out = new Map<string, string>();
    for (const path of paths) {
      const dev = path.split('/')[3];
      if (path.includes('/conf/') && dev !== 'all' && dev !== 'default' && !this.links.some((l) => l.name === dev)) continue;
      out.set(path, this.sysctls.get(path) ?? '0');
    }
    return out;
  }
  sysctlSet(path: string, value: string): void {
    this.writes++;
    this.sysctls.set(path, value);
  }
  async announce(ifIndex: number, address: string): Promise<void> {
    this.writes++;
    this.announced.push({ ifIndex, address });
  }
  async proxyNeighList(): Promise<Neigh[]> {
    return (await this.neighList()).filter((n) => n.proxy);
  }
  subscribe(_listener: (event: KernelEvent) => void): () => void {
    return () => {};
  }
  async fence(): Promise<void> {}
  close(): void {}
}
