// desired kernel objects x observed kernel state -> ordered ops. Pure.
//
// Rules: only owned objects are changed or deleted; objects of frozen (rejected) owners are
// neither; a tap is never recreated (QEMU may hold it); an adopted tap (made by the VM manager)
// is never created or deleted, only configured while its port is here and then handed back; a
// bridge is not deleted while a port that is desired or frozen is still enslaved to it; an
// unchanged state yields no op at all.
import type { Link, Neigh, Route } from '../kernel/types.js';
import { cidrContains, normalizeAddress } from '../util/ip.js';
import type { DesiredKernel, DesiredLink, DesiredNeigh, DesiredRoute, ModelProblem } from './model.js';
import type { Observed } from './observe.js';
import { phaseOf, type Op } from './ops.js';
import { adoptedAlias, DELETE_GROUP, isAdoptedLink, isOwnedLink, isOwnedRoute, isOwnedRule, ownerAlias, ownerKey, parseOwnerAlias, type Owner } from './ownership.js';

export interface Plan {
  ops: Op[];
  problems: ModelProblem[];
  /** Owners waiting on someone else (see DesiredKernel.pending). */
  pending: ModelProblem[];
}

const ORPHAN: Owner = { kind: 'network', id: '(orphan)' };

export function diff(desired: DesiredKernel, observed: Observed, frozen: ReadonlySet<string>): Plan {
  const ops: Op[] = [];
  const problems: ModelProblem[] = [...desired.problems];
  const byName = new Map(observed.links.map((l) => [l.name, l]));
  const byIndex = new Map(observed.links.map((l) => [l.index, l]));
  const isFrozen = (o: Owner | undefined): boolean => o !== undefined && frozen.has(ownerKey(o));
  const linkOwner = (index: number | undefined): Owner | undefined =>
    index === undefined ? undefined : parseOwnerAlias(byIndex.get(index)?.alias);

  // ---- links
  const desiredNames = new Set(desired.links.map((l) => l.name));
  const recreated = new Set<string>();
  for (const want of desired.links) {
    const have = byName.get(want.name);
    if (!have) {
      ops.push({ kind: 'linkAdd', link: want, owner: want.owner });
      ops.push({ kind: 'linkSet', name: want.name, master: want.master, up: true, ...(want.mac ? { address: want.mac } : {}), owner: want.owner });
      continue;
    }
    const adopting = want.kind === 'tap' && want.adopt;
    if (!isOwnedLink(have) && !(adopting && have.kind === 'tap')) {
      problems.push({
        owner: want.owner,
        reason: adopting ? `device '${want.name}' exists and is a ${have.kind}, not a tap; not adopted` : `device '${want.name}' exists and is not managed by plumb; not touched`,
      });
      continue;
    }
    const mismatch = immutableMismatch(want, have, byName);
    if (mismatch) {
      if (have.kind === 'tap') {
        problems.push({ owner: want.owner, reason: `tap '${want.name}' differs (${mismatch}); taps are never recreated, re-plug the VM NIC to apply` });
      } else {
        ops.push({ kind: 'linkDel', link: have, owner: want.owner });
        ops.push({ kind: 'linkAdd', link: want, owner: want.owner });
        ops.push({ kind: 'linkSet', name: want.name, master: want.master, up: true, ...(want.mac ? { address: want.mac } : {}), owner: want.owner });
        recreated.add(want.name);
        continue;
      }
    }
    const set: Extract<Op, { kind: 'linkSet' }> = { kind: 'linkSet', name: want.name, owner: want.owner };
    if (have.mtu !== want.mtu) set.mtu = want.mtu;
    if (want.mac && have.mac.toLowerCase() !== want.mac) {
      set.address = want.mac;
      // the VM may hold the old address for its gateway: tell it (phase after the change)
      for (const gw of want.announceOnMacChange ?? []) ops.push({ kind: 'announce', dev: want.name, address: gw, owner: want.owner });
    }
    const alias = want.kind === 'tap' && want.adopt ? adoptedAlias(want.owner) : ownerAlias(want.owner);
    if (have.alias !== alias) set.alias = alias;
    const haveMaster = have.masterIndex === undefined ? undefined : byIndex.get(have.masterIndex)?.name;
    if (haveMaster !== want.master) set.master = want.master ?? '';
    if (!have.up) set.up = true;
    // Marked for a bulk deletion that never happened (a crash between the two steps) and desired
    // again: back into the default group, in a phase before this pass's own deletions.
    if (have.devGroup === DELETE_GROUP) ops.push({ kind: 'linkSet', name: want.name, group: 0, owner: want.owner });
    if (Object.keys(set).length > 3) ops.push(set);
  }
  for (const e of desired.enslavements) {
    const have = byName.get(e.name);
    if (!have) continue;
    const haveMaster = have.masterIndex === undefined ? undefined : byIndex.get(have.masterIndex)?.name;
    if (haveMaster !== e.master || !have.up) ops.push({ kind: 'linkSet', name: e.name, master: e.master, up: true, owner: e.owner });
  }
  // Enslaved ports that must keep their bridge alive.
  const protectedMasters = new Set<number>();
  for (const l of observed.links) {
    if (l.masterIndex === undefined) continue;
    const o = parseOwnerAlias(l.alias);
    if (desiredNames.has(l.name) || isFrozen(o)) protectedMasters.add(l.masterIndex);
  }
  for (const have of observed.links) {
    const o = parseOwnerAlias(have.alias);
    if (!o || desiredNames.has(have.name) || isFrozen(o)) continue;
    if (isAdoptedLink(have)) {
      // handed back to the VM manager in one request: out of the bridge, no longer plumb's
      ops.push({ kind: 'linkSet', name: have.name, ...(have.masterIndex !== undefined ? { master: '' } : {}), alias: '', owner: o });
      continue;
    }
    if (have.kind === 'bridge' && protectedMasters.has(have.index)) {
      problems.push({ owner: o, reason: `bridge '${have.name}' is no longer desired but still has ports in use; kept` });
      continue;
    }
    ops.push({ kind: 'linkDel', link: have, owner: o });
  }
  const gone = (ifIndex: number | undefined): boolean => {
    // objects on a device we delete or recreate vanish with it; no separate delete op
    const l = ifIndex === undefined ? undefined : byIndex.get(ifIndex);
    return l !== undefined && isOwnedLink(l) && !isAdoptedLink(l) && (!desiredNames.has(l.name) || recreated.has(l.name)) && !isFrozen(parseOwnerAlias(l.alias));
  };
  const devIndex = (name: string): number | undefined => (recreated.has(name) ? undefined : byName.get(name)?.index);

  // ---- routes
  const routeKey = (family: number, table: number, dst: string): string => `${family}|${table}|${dst}`;
  const haveRoutes = new Map<string, Route>();
  for (const r of observed.routes) if (isOwnedRoute(r)) haveRoutes.set(routeKey(r.family, r.table, normalizePrefix(r.dst)), r);
  const wantRoutes = new Set<string>();
  for (const want of desired.routes) {
    const key = routeKey(want.family, want.table, normalizePrefix(want.dst));
    wantRoutes.add(key);
    const have = haveRoutes.get(key);
    if (!have || !routeMatches(want, have, devIndex(want.dev))) ops.push({ kind: 'routeReplace', route: want, owner: want.owner });
  }
  for (const [key, r] of haveRoutes) {
    if (wantRoutes.has(key) || gone(r.oifIndex) || isFrozen(linkOwner(r.oifIndex))) continue;
    ops.push({ kind: 'routeDel', route: r, owner: linkOwner(r.oifIndex) ?? ORPHAN });
  }

  // ---- rules
  const ruleKey = (family: number, iif: string, table: number): string => `${family}|${iif}|${table}`;
  const haveRules = new Set<string>();
  const wantRules = new Set(desired.rules.map((w) => ruleKey(w.family, w.iifName, w.table)));
  for (const r of observed.rules) {
    if (!isOwnedRule(r)) continue;
    const key = ruleKey(r.family, r.iifName ?? '', r.table);
    const iifOwner = parseOwnerAlias(byName.get(r.iifName ?? '')?.alias);
    if (wantRules.has(key)) {
      haveRules.add(key);
    } else if (!isFrozen(iifOwner)) {
      ops.push({ kind: 'ruleDel', rule: r, owner: iifOwner ?? ORPHAN });
    }
  }
  for (const want of desired.rules) {
    if (!haveRules.has(ruleKey(want.family, want.iifName, want.table))) ops.push({ kind: 'ruleAdd', rule: want, owner: want.owner });
  }

  // ---- neighbours
  const neighKey = (family: number, proxy: boolean, ifIndex: number | string, address: string): string =>
    `${family}|${proxy ? 'p' : 'n'}|${ifIndex}|${normalizeAddress(address)}`;
  const ownedHostRoutes = new Set(
    observed.routes.filter((r) => isOwnedRoute(r) && /\/(32|128)$/.test(r.dst) && isOwnedLink(byIndex.get(r.oifIndex ?? -1) ?? ({} as Link))).map((r) => normalizeAddress(r.dst.split('/')[0] ?? '')),
  );
  const ownedNeigh = (n: Neigh): boolean => {
    const dev = byIndex.get(n.ifIndex);
    if (!dev) return false;
    if (isOwnedLink(dev)) return n.proxy || n.state === 'permanent';
    if (!n.proxy) return false;
    // A proxy entry on an uplink is plumb's when it lies in a routed subnet served here, or
    // when plumb routes that very address to one of its ports (so it is still recognised in
    // the pass that removes the whole network).
    return (
      desired.proxyScopes.some((s) => s.dev === dev.name && s.cidrs.some((c) => cidrContains(c, n.address))) ||
      ownedHostRoutes.has(normalizeAddress(n.address))
    );
  };
  const haveNeighs = new Map<string, Neigh>();
  for (const n of observed.neighs) if (ownedNeigh(n)) haveNeighs.set(neighKey(n.family, n.proxy, n.ifIndex, n.address), n);
  const wantNeighs = new Set<string>();
  for (const want of desired.neighs) {
    const idx = devIndex(want.dev);
    const key = idx === undefined ? undefined : neighKey(want.family, want.proxy, idx, want.address);
    if (key) wantNeighs.add(key);
    const have = key ? haveNeighs.get(key) : undefined;
    if (have && neighMatches(want, have)) continue;
    ops.push({ kind: 'neighReplace', neigh: want, owner: want.owner });
    if (want.announce && !have) ops.push({ kind: 'announce', dev: want.dev, address: want.address, owner: want.owner });
  }
  for (const [key, n] of haveNeighs) {
    if (wantNeighs.has(key) || gone(n.ifIndex)) continue;
    const o = linkOwner(n.ifIndex);
    if (isFrozen(o) || (n.proxy && frozen.size > 0 && !o)) continue; // a frozen port's proxy entry on an uplink
    ops.push({ kind: 'neighDel', neigh: n, owner: o ?? ORPHAN });
  }

  // ---- VXLAN head-end replication entries
  const fdbKey = (dev: string, mac: string, dst: string | undefined): string => `${dev}|${mac}|${dst === undefined ? '' : normalizeAddress(dst)}`;
  const wantFdb = new Set(desired.fdb.map((w) => fdbKey(w.dev, w.mac, w.dst)));
  for (const [ifIndex, entries] of observed.fdb) {
    const dev = byIndex.get(ifIndex);
    if (!dev || gone(ifIndex) || isFrozen(parseOwnerAlias(dev.alias))) continue;
    for (const e of entries) {
      if (!wantFdb.has(fdbKey(dev.name, e.mac, e.dst))) {
        ops.push({ kind: 'fdbDel', entry: e, dev: dev.name, owner: parseOwnerAlias(dev.alias) ?? ORPHAN });
      }
    }
  }
  for (const want of desired.fdb) {
    const idx = devIndex(want.dev);
    const have = idx === undefined ? [] : observed.fdb.get(idx) ?? [];
    if (!have.some((e) => e.mac === want.mac && sameAddr(e.dst, want.dst))) ops.push({ kind: 'fdbAppend', dev: want.dev, mac: want.mac, dst: want.dst, owner: want.owner });
  }

  // ---- sysctls (written only when different; never reverted)
  const seen = new Set<string>();
  for (const s of desired.sysctls) {
    if (seen.has(s.path)) continue;
    seen.add(s.path);
    const dev = s.path.split('/')[3];
    const devRecreated = dev !== undefined && recreated.has(dev);
    if (devRecreated || observed.sysctls.get(s.path)?.trim() !== s.value) ops.push({ kind: 'sysctlSet', path: s.path, value: s.value, owner: s.owner });
  }

  ops.sort((a, b) => phaseOf(a) - phaseOf(b));
  return { ops, problems, pending: desired.pending };
}

function immutableMismatch(want: DesiredLink, have: Link, byName: Map<string, Link>): string | undefined {
  if (want.kind !== have.kind) return `kind ${have.kind}, want ${want.kind}`;
  if (want.kind === 'vxlan' && have.kind === 'vxlan') {
    if (have.vni !== want.vni) return `VNI ${have.vni}, want ${want.vni}`;
    if (have.port !== want.port) return `port ${have.port}, want ${want.port}`;
    if (have.learning) return 'learning on';
    if (!sameAddr(have.local, want.local)) return `local ${have.local ?? 'none'}, want ${want.local}`;
    const underlay = want.underlay ? byName.get(want.underlay)?.index : undefined;
    if (underlay !== undefined && have.underlayIndex !== underlay) return 'underlay device differs';
  }
  if (want.kind === 'vlan' && have.kind === 'vlan') {
    if (have.vid !== want.vid) return `VLAN ${have.vid}, want ${want.vid}`;
    if (have.parentIndex !== byName.get(want.parent)?.index) return 'parent device differs';
  }
  if (want.kind === 'tap' && have.kind === 'tap' && !want.adopt) {
    if (want.uid !== undefined && have.owner !== want.uid) return `owner ${have.owner ?? 'none'}, want ${want.uid}`;
    if (want.gid !== undefined && have.group !== want.gid) return `group ${have.group ?? 'none'}, want ${want.gid}`;
    if (have.multiQueue !== want.multiQueue) return 'multi_queue differs';
    if (have.vnetHdr !== want.vnetHdr) return 'vnet_hdr differs';
  }
  return undefined;
}

function routeMatches(want: DesiredRoute, have: Route, oif: number | undefined): boolean {
  // IPv6 has no route scopes: the kernel reports every IPv6 route as universe.
  return have.oifIndex === oif && sameAddr(have.gateway, want.gateway) && (want.family === 6 || have.scope === want.scope);
}

function neighMatches(want: DesiredNeigh, have: Neigh): boolean {
  if (want.proxy) return have.proxy;
  return have.state === 'permanent' && (have.lladdr ?? '').toLowerCase() === (want.lladdr ?? '').toLowerCase();
}

function sameAddr(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return normalizeAddress(a) === normalizeAddress(b);
}

function normalizePrefix(p: string): string {
  const [a, len] = p.split('/');
  return `${normalizeAddress(a ?? '')}/${len ?? ''}`;
}
