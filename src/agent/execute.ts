// Applies a plan phase by phase. Ops inside a phase are independent and are sent concurrently
// (pipelined on the netlink socket); a failed op marks its owner failed, and that owner's later
// ops are skipped, while every other object still converges.
//
// Device deletions of one phase are done in bulk (deleteLinks): the devices are moved into
// plumb's deletion group, then one RTM_DELLINK by group unregisters them together. The kernel
// waits for RCU grace periods once per unregistration, so 1,000 taps take ~0.5 s instead of
// ~17 s one by one (docs/benchmarks.md, scripts/bench-delete.ts).
import type { KernelHandle, Link, LinkSpec } from '../kernel/types.js';
import { ExistsError, NotFoundError } from '../kernel/errors.js';
import { errorMessage } from '../util/errors.js';
import { logger } from '../util/log.js';
import { describeOp, phaseOf, type Op } from './ops.js';
import { DELETE_GROUP, ownerAlias, ownerKey, RTPROT_PLUMB, RULE_PRIORITY, type Owner } from './ownership.js';

const log = logger('execute');

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
 * Fewest deletions in a phase worth a bulk deletion: below this, the extra link read (the group
 * check) costs more than the grace periods saved. At most CONCURRENCY go in one group deletion,
 * which bounds how long the kernel holds RTNL for it (every other netlink writer on the host
 * waits for RTNL meanwhile).
 */
export const BULK_DELETE_MIN = 3;

type LinkDelOp = Extract<Op, { kind: 'linkDel' }>;

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
  // A new device whose master already existed before this plan (not deleted or created by it)
  // is enslaved and set up in the request that sets its alias right after creation; the plan's
  // separate `link set master up` for it is then skipped. For a port joining an existing bridge
  // that is one request, one phase and one link re-read less per pass.
  const replaced = new Set(ops.flatMap((op) => (op.kind === 'linkDel' || op.kind === 'linkAdd' ? [op.link.name] : [])));
  /** new device -> the master it was created with ('' for none) */
  const attachedAtCreation = new Map<string, string>();
  const alreadyDone = (op: Op): boolean =>
    op.kind === 'linkSet' && op.up === true && op.mtu === undefined && op.alias === undefined && op.group === undefined && op.address === undefined && attachedAtCreation.get(op.name) === (op.master ?? '');

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
      case 'linkAdd': {
        const spec = toSpec(op.link, ifindex);
        const master = op.link.master;
        const existing = master === undefined || replaced.has(master) ? undefined : index.get(master);
        if (master === undefined || existing) {
          spec.up = true;
          if (existing) spec.masterIndex = existing.index;
        }
        await handle.linkAdd(spec);
        if (spec.up) attachedAtCreation.set(op.link.name, master ?? '');
        return;
      }
      case 'linkSet': {
        const change: Parameters<KernelHandle['linkSet']>[1] = {};
        if (op.mtu !== undefined) change.mtu = op.mtu;
        if (op.alias !== undefined) change.alias = op.alias;
        if (op.master !== undefined) change.masterIndex = op.master === '' ? null : ifindex(op.master);
        if (op.up !== undefined) change.up = op.up;
        if (op.group !== undefined) change.group = op.group;
        if (op.address !== undefined) change.address = op.address;
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
    batch = batch.filter((op) => !alreadyDone(op));
    if (batch.length === 0) return;
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
      const dels = chunk.filter((op): op is LinkDelOp => op.kind === 'linkDel');
      let results: PromiseSettledResult<void>[];
      if (dels.length === chunk.length && dels.length >= BULK_DELETE_MIN) {
        const bulk = await deleteLinks(handle, dels);
        writes += bulk.writes;
        results = bulk.results;
      } else {
        results = await Promise.allSettled(chunk.map(run));
      }
      results.forEach((res, j) => {
        if (res.status === 'fulfilled') return;
        const op = chunk[j] as Op;
        failedOwners.add(ownerKey(op.owner));
        failures.push({ owner: op.owner, op: describeOp(op), reason: errorMessage(res.reason) });
      });
    }
    // a new MAC too: announcements are sent from the device's current address
    if (batch.some((op) => op.kind === 'linkAdd' || (op.kind === 'linkSet' && op.address !== undefined))) stale = true;
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

/**
 * Delete `ops`' devices with as few unregistrations as possible, each op with its own outcome:
 *  1. move each device into DELETE_GROUP (`ip link set dev D group G`: cheap, batched);
 *  2. dump the links: the group must hold exactly the devices just moved (a device plumb does
 *     not own, or one it keeps — e.g. frozen — must never be deleted with them). A dump, not the
 *     notification-fed cache: the kernel does not notify a group change of a device that is
 *     down (netdev_state_change), and new taps are down;
 *  3. one `ip link del group G`; if the group held anything else, or the group deletion fails,
 *     each device is deleted on its own instead.
 * A crash between 1 and 3 leaves devices in the group: the next pass deletes them again if they
 * are still unwanted, and the diff puts them back into group 0 if they are desired again.
 */
export async function deleteLinks(handle: KernelHandle, ops: readonly LinkDelOp[]): Promise<{ results: PromiseSettledResult<void>[]; writes: number }> {
  const done: PromiseSettledResult<void> = { status: 'fulfilled', value: undefined };
  const results: PromiseSettledResult<void>[] = ops.map(() => done);
  let writes = ops.length;
  const marked = await Promise.allSettled(ops.map((op) => handle.linkSet(op.link.index, { group: DELETE_GROUP })));
  const members = new Map<number, number>(); // ifindex -> position in ops
  marked.forEach((r, i) => {
    const op = ops[i] as LinkDelOp;
    if (r.status === 'fulfilled') members.set(op.link.index, i);
    else if (!(r.reason instanceof NotFoundError)) results[i] = r; // NotFound: already gone, the goal
  });
  if (members.size === 0) return { results, writes };

  const links = await handle.linkList();
  const present = new Map(links.map((l) => [l.index, l]));
  const inGroup = links.filter((l) => l.devGroup === DELETE_GROUP);
  const strangers = inGroup.filter((l) => !members.has(l.index));
  // members no longer in the group (moved out meanwhile) are deleted on their own
  const single = [...members.keys()].filter((index) => present.has(index) && present.get(index)?.devGroup !== DELETE_GROUP);
  if (strangers.length > 0) {
    log.warn({ group: DELETE_GROUP, devices: strangers.map((l) => l.name) }, 'the deletion group holds devices this pass did not put there; deleting one device at a time');
    single.push(...inGroup.filter((l) => members.has(l.index)).map((l) => l.index));
  } else if (inGroup.length > 0) {
    writes += 1;
    try {
      await handle.linkDelGroup(DELETE_GROUP);
    } catch (err) {
      if (!(err instanceof NotFoundError)) {
        log.warn({ group: DELETE_GROUP, devices: inGroup.length, err: errorMessage(err) }, 'group deletion failed; deleting one device at a time');
        single.push(...inGroup.map((l) => l.index));
      }
    }
  }
  writes += single.length;
  const outcomes = await Promise.allSettled(single.map((index) => ignoreNotFound(handle.linkDel(index))));
  outcomes.forEach((r, k) => {
    const i = members.get(single[k] as number);
    if (i !== undefined) results[i] = r;
  });
  return { results, writes };
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
