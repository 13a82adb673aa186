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
  const ownedVxlans = links.filter((l) => l.kind === 'vxlan' && isOwnedLink(l));
  const [routes, rules, neighs, fdbLists] = await Promise.all([
    handle.routeList(),
    handle.ruleList(),
    handle.neighList(),
    Promise.all(ownedVxlans.map((l) => handle.fdbList(l.index))),
  ]);
  const fdb = new Map<number, FdbEntry[]>();
  ownedVxlans.forEach((l, i) => fdb.set(l.index, fdbLists[i] ?? []));
  const sysctls = new Map<string, string | undefined>();
  for (const p of new Set(sysctlPaths)) sysctls.set(p, handle.sysctlGet(p));
  return { links, routes, rules, neighs, fdb, sysctls };
}
