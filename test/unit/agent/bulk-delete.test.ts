// Bulk device deletion (execute.ts deleteLinks) and its crash recovery in the diff, on the
// in-memory kernel. The real kernel is exercised by test/agent/bulk-delete.test.ts.
import { beforeEach, describe, expect, it } from 'vitest';
import { BULK_DELETE_MIN, execute } from '../../../src/agent/execute.js';
import { describeOp, type Op } from '../../../src/agent/ops.js';
import { DELETE_GROUP } from '../../../src/agent/ownership.js';
import { Reconciler } from '../../../src/agent/reconciler.js';
import { validateHostState } from '../../../src/state/validate.js';
import { KernelError } from '../../../src/kernel/errors.js';
import type { Link } from '../../../src/kernel/types.js';
import { FakeKernel } from '../../helpers/fake-kernel.js';

const tap = (name: string) => ({ kind: 'tap' as const, name, mtu: 1500, alias: `plumb:port:${name}`, owner: undefined, group: undefined, multiQueue: false, vnetHdr: true });
const dels = (links: readonly Link[], names: readonly string[]): Op[] =>
  links.filter((l) => names.includes(l.name)).map((l) => ({ kind: 'linkDel', link: l, owner: { kind: 'port', id: l.name } }));

describe('bulk device deletion on a fake kernel', () => {
  let k: FakeKernel;
  beforeEach(async () => {
    k = new FakeKernel();
    k.addForeignLink('eth0');
    for (const n of ['t1', 't2', 't3', 't4', 'keep']) await k.linkAdd(tap(n));
  });

  it('deletes the devices of a phase with one group deletion, touching nothing else', async () => {
    const res = await execute(k, dels(k.links, ['t1', 't2', 't3', 't4']));
    expect(res.failures).toEqual([]);
    expect(k.groupDeletes).toBe(1);
    expect(k.links.map((l) => l.name).sort()).toEqual(['eth0', 'keep']);
    expect(k.links.every((l) => l.devGroup === 0)).toBe(true);
  });

  it(`deletes fewer than ${BULK_DELETE_MIN} devices one by one`, async () => {
    await execute(k, dels(k.links, ['t1', 't2'].slice(0, BULK_DELETE_MIN - 1)));
    expect(k.groupDeletes).toBe(0);
    expect(k.links.some((l) => l.name === 't1')).toBe(false);
  });

  it('deletes one by one when the group holds a device it did not put there, and leaves that one alone', async () => {
    k.links.find((l) => l.name === 'eth0')!.devGroup = DELETE_GROUP; // an operator's device
    k.links.find((l) => l.name === 'keep')!.devGroup = DELETE_GROUP; // plumb's, but not deleted in this pass (e.g. frozen)
    const res = await execute(k, dels(k.links, ['t1', 't2', 't3', 't4']));
    expect(res.failures).toEqual([]);
    expect(k.groupDeletes).toBe(0);
    expect(k.links.map((l) => l.name).sort()).toEqual(['eth0', 'keep']);
  });

  it('counts a device already gone as deleted', async () => {
    const ops = dels(k.links, ['t1', 't2', 't3', 't4']);
    await k.linkDel(k.links.find((l) => l.name === 't2')!.index);
    const res = await execute(k, ops);
    expect(res.failures).toEqual([]);
    expect(k.links.map((l) => l.name).sort()).toEqual(['eth0', 'keep']);
  });

  it('falls back to one by one when the group deletion fails, each op with its own outcome', async () => {
    k.linkDelGroup = async () => {
      throw new KernelError('link del group', 95, 'EOPNOTSUPP');
    };
    const realDel = k.linkDel.bind(k);
    const t3 = k.links.find((l) => l.name === 't3')!.index;
    k.linkDel = async (index: number) => {
      if (index === t3) throw new KernelError('link del', 16, 'EBUSY');
      return realDel(index);
    };
    const res = await execute(k, dels(k.links, ['t1', 't2', 't3', 't4']));
    expect(res.failures.map((f) => f.owner)).toEqual([{ kind: 'port', id: 't3' }]);
    expect(k.links.map((l) => l.name).sort()).toEqual(['eth0', 'keep', 't3']);
  });
});

describe('a crash between marking and deleting', () => {
  it('puts a desired plumb device found in the deletion group back into group 0 first, deletes the rest by group; a second pass writes nothing', async () => {
    const k = new FakeKernel();
    k.addForeignLink('br-c', 'bridge');
    const doc = (ports: string[]) =>
      validateHostState({
        schemaVersion: 1,
        generation: 1,
        host: { name: 'h1', underlay: { device: 'lo', address: '127.0.0.1' }, tapOwner: 0 },
        networks: [{ id: 'c1', type: 'CUSTOM', bridge: 'br-c' }],
        ports: ports.map((id, i) => ({ id, network: 'c1', mac: `aa:00:00:00:00:0${i + 1}`, ifname: id })),
      });
    const ids = () => ({ uid: (o: string | number) => (typeof o === 'number' ? o : undefined), gid: () => undefined });
    const r = new Reconciler(k, { ids });
    expect((await r.reconcile(doc(['a1', 'a2', 'a3', 'a4']))).converged).toBe(true);
    for (const l of k.links) if (l.name !== 'br-c') l.devGroup = DELETE_GROUP; // the crashed pass's step 1
    const plan = await r.plan(doc(['a1']));
    expect(plan.ops.map(describeOp)).toContain('ip link set a1 group default');
    const res = await r.reconcile(doc(['a1']));
    expect(res.converged).toBe(true);
    expect(k.groupDeletes).toBe(1); // a1 left the group before the deletions checked it
    expect(k.links.map((l) => [l.name, l.devGroup])).toEqual([
      ['br-c', 0],
      ['a1', 0],
    ]);
    expect((await r.reconcile(doc(['a1']))).writes).toBe(0);
  });
});
