// Observed kernel state: one dump per object kind, FDBs only of plumb's own VXLAN devices,
// sysctls only for the paths the desired model names.
import type { FdbEntry, KernelHandle, Link, Neigh, Route, Rule } from '../kernel/types.js';
import { isOwnedLink } from './ownership.js';

export interface Observed {
  links: Link[];
  routes: Route[];
  rules: Rule[];
  neighs: Neigh[];
  /** ifindex -> entries with a remote dst, for owned VXLAN devices. */
  fdb: Map<number, FdbEntry[]>;
  /** path -> value (undefined when the file does not exist). */
  sysctls: Map<string, string | undefined>;
}

export async function observeLinks(handle: KernelHandle): Promise<Link[]> {
  return handle.linkList();
}

export async function observe(handle: KernelHandle, links: Link[], sysctlPaths: Iterable<string>): Promise<Observed> {
  const ownedVxlans = new Set(links.filter((l) => l.kind === 'vxlan' && isOwnedLink(l)).map((l) => l.index));
  const [routes, rules, neighs, fdbAll] = await Promise.all([
    handle.routeList(),
    handle.ruleList(),
    handle.neighList(),
    ownedVxlans.size > 0 ? handle.fdbList() : Promise.resolve([]),
  ]);
  const fdb = new Map<number, FdbEntry[]>([...ownedVxlans].map((i) => [i, []]));
  for (const e of fdbAll) fdb.get(e.ifIndex)?.push(e);
  const found = handle.sysctlGet([...new Set(sysctlPaths)]);
  const sysctls = new Map<string, string | undefined>();
  for (const p of new Set(sysctlPaths)) sysctls.set(p, found.get(p));
  return { links, routes, rules, neighs, fdb, sysctls };
}
