// Applies a plan phase by phase. Ops inside a phase are independent and are sent concurrently
// (pipelined on the netlink socket); a failed op marks its owner failed, and that owner's later
// ops are skipped, while every other object still converges.
import type { KernelHandle, Link, LinkSpec } from '../kernel/types.js';
import { ExistsError, NotFoundError } from '../kernel/errors.js';
import { errorMessage } from '../util/errors.js';
import { describeOp, phaseOf, type Op } from './ops.js';
import { ownerAlias, ownerKey, RTPROT_PLUMB, RULE_PRIORITY, type Owner } from './ownership.js';

export interface OpFailure {
  owner: Owner;
  op: string;
  reason: string;
}

export interface ExecuteResult {
  /** Kernel writes actually issued. */
  writes: number;
  failures: OpFailure[];
  /** Owners whose ops were skipped because an earlier op of theirs failed. */
  skipped: number;
}

const CONCURRENCY = 256;

/**
 * `links`: the links observed for this pass (saves a dump when nothing was created yet);
 * `relist`: how to read links again once devices were created (default: a dump).
 */
export async function execute(
  handle: KernelHandle,
  ops: readonly Op[],
  links?: readonly Link[],
  relist: () => Promise<readonly Link[]> = () => handle.linkList(),
): Promise<ExecuteResult> {
  const failures: OpFailure[] = [];
  const failedOwners = new Set<string>();
  let writes = 0;
  let skipped = 0;
  if (ops.length === 0) return { writes: 0, failures: [], skipped: 0 };
  let index = new Map((links ?? (await handle.linkList())).map((l) => [l.name, l]));
  const ifindex = (name: string): number => {
    const l = index.get(name);
    if (!l) throw new NotFoundError(`lookup ${name}`, 19, 'ENODEV', `device '${name}' does not exist`);
    return l.index;
  };

  const run = async (op: Op): Promise<void> => {
    writes += 1;
    switch (op.kind) {
      case 'linkDel':
        try {
          await handle.linkDel(op.link.index);
        } catch (e) {
          if (!(e instanceof NotFoundError)) throw e; // already gone: the goal is reached
        }
        return;
      case 'linkAdd':
        return handle.linkAdd(toSpec(op.link, ifindex));
      case 'linkSet': {
        const change: Parameters<KernelHandle['linkSet']>[1] = {};
        if (op.mtu !== undefined) change.mtu = op.mtu;
        if (op.alias !== undefined) change.alias = op.alias;
        if (op.master !== undefined) change.masterIndex = op.master === '' ? null : ifindex(op.master);
        if (op.up !== undefined) change.up = op.up;
        return handle.linkSet(ifindex(op.name), change);
      }
      case 'ruleDel':
        return ignoreNotFound(handle.ruleDel(op.rule));
      case 'ruleAdd':
        return ignoreExists(
          handle.ruleAdd({ family: op.rule.family, priority: RULE_PRIORITY, iifName: op.rule.iifName, table: op.rule.table, protocol: RTPROT_PLUMB }),
        );
      case 'routeDel':
        return ignoreNotFound(handle.routeDel(op.route));
      case 'routeReplace': {
        const r = op.route;
        return handle.routeReplace({
          family: r.family,
          dst: r.dst,
          table: r.table,
          oifIndex: ifindex(r.dev),
          gateway: r.gateway,
          protocol: RTPROT_PLUMB,
          scope: r.scope,
          type: 'unicast',
          metric: 0,
        });
      }
      case 'neighDel':
        return ignoreNotFound(handle.neighDel(op.neigh));
      case 'neighReplace': {
        const n = op.neigh;
        return handle.neighReplace({
          family: n.family,
          ifIndex: ifindex(n.dev),
          address: n.address,
          lladdr: n.lladdr,
          state: n.proxy ? 'other' : 'permanent',
          proxy: n.proxy,
        });
      }
      case 'fdbDel':
        return ignoreNotFound(handle.fdbDel(op.entry));
      case 'fdbAppend':
        return ignoreExists(handle.fdbAppend({ ifIndex: ifindex(op.dev), mac: op.mac, dst: op.dst }));
      case 'sysctlSet':
        return handle.sysctlSet(op.path, op.value);
      case 'announce': {
        const dev = index.get(op.dev);
        if (!dev) return;
        return handle.announce(dev.index, op.address, dev.mac);
      }
    }
  };

  let phase = -1;
  let batch: Op[] = [];
  let stale = false; // links were created since the index was built
  const flush = async (): Promise<void> => {
    // New devices are addressed by ifindex from the link-attribute phase on: one dump after all
    // the create phases, not one per phase.
    if (stale && phaseOf(batch[0] as Op) >= 10) {
      index = new Map((await relist()).map((l) => [l.name, l]));
      stale = false;
    }
    for (let i = 0; i < batch.length; i += CONCURRENCY) {
      const chunk = batch.slice(i, i + CONCURRENCY).filter((op) => {
        if (!failedOwners.has(ownerKey(op.owner))) return true;
        skipped += 1;
        return false;
      });
      const results = await Promise.allSettled(chunk.map(run));
      results.forEach((res, j) => {
        if (res.status === 'fulfilled') return;
        const op = chunk[j] as Op;
        failedOwners.add(ownerKey(op.owner));
        failures.push({ owner: op.owner, op: describeOp(op), reason: errorMessage(res.reason) });
      });
    }
    if (batch.some((op) => op.kind === 'linkAdd')) stale = true;
    batch = [];
  };
  for (const op of ops) {
    const p = phaseOf(op);
    if (p !== phase && batch.length > 0) await flush();
    phase = p;
    batch.push(op);
  }
  if (batch.length > 0) await flush();
  return { writes, failures, skipped };
}

function toSpec(l: Extract<Op, { kind: 'linkAdd' }>['link'], ifindex: (name: string) => number): LinkSpec {
  const alias = ownerAlias(l.owner);
  switch (l.kind) {
    case 'bridge':
      return { kind: 'bridge', name: l.name, mtu: l.mtu, alias };
    case 'vxlan':
      return { kind: 'vxlan', name: l.name, mtu: l.mtu, alias, vni: l.vni, local: l.local, underlayIndex: l.underlay ? ifindex(l.underlay) : undefined, port: l.port, learning: false };
    case 'vlan':
      return { kind: 'vlan', name: l.name, mtu: l.mtu, alias, parentIndex: ifindex(l.parent), vid: l.vid };
    case 'tap':
      return { kind: 'tap', name: l.name, mtu: l.mtu, alias, owner: l.uid, group: l.gid, multiQueue: l.multiQueue, vnetHdr: l.vnetHdr };
    case 'veth':
      return { kind: 'veth', name: l.name, mtu: l.mtu, alias, peerMac: l.peerMac, peerName: l.peerName, peerNetns: l.peerNetns };
  }
}

async function ignoreNotFound(p: Promise<void>): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
  }
}

async function ignoreExists(p: Promise<void>): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof ExistsError)) throw e;
  }
}
