// The SQLite store's unit semantics (group commit with savepoints) and the kept device count
// behind the per-network device limit, and the refusal of a store from a newer plumb.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/controller/sqlite-store.js';
import { SCHEMA_VERSION, openDb } from '../../src/controller/db.js';
import { StoreSchemaNewerError } from '../../src/controller/store-errors.js';
import type { RunningController } from '../../src/controller/server.js';
import { logger } from '../../src/util/log.js';
import { caller, testController } from './fixture.js';

const at = '2026-01-01T00:00:00.000Z';

describe('SQLite store units', () => {
  let store: SqliteStore;
  let path: string;
  let subnetId: number;
  let networkId: number;
  beforeAll(async () => {
    path = join(mkdtempSync(join(tmpdir(), 'plumb-store-')), 'c.db');
    store = new SqliteStore(path, logger('test'));
    networkId = await store.write((tx) => tx.insertNetwork({ name: 'n', project: 'p', type: 'MAC_FILTERED', public: false, segment: null, uplink: null, routingTable: null, at }));
    subnetId = await store.write((tx) =>
      tx.insertSubnet({ networkId, project: 'p', name: 's', cidr: '10.1.0.0/29', ipVersion: 4, gateway: '10.1.0.1', pools: JSON.stringify([{ start: '10.1.0.2', end: '10.1.0.6' }]), dns: '[]', enableDhcp: true, hostRoutes: '[]' }),
    );
  });
  afterAll(async () => store?.close());

  const port = (mac: string, device = '') => ({ networkId, newDevice: !!device, project: 'p', name: '', deviceId: device, deviceOwner: '', nicIndex: null, mac, host: null, profile: '{}', firewallProfile: 'DISABLED', at });

  it('units of one event-loop turn: a failing one is rolled back alone (first or later), the others commit', async () => {
    const results = await Promise.allSettled([
      store.write(async (tx) => {
        await tx.insertPort(port('aa:00:00:00:00:01'));
        throw new Error('first unit fails');
      }),
      store.write((tx) => tx.insertPort(port('aa:00:00:00:00:02'))),
      store.write(async (tx) => {
        await tx.insertPort(port('aa:00:00:00:00:03'));
        throw new Error('third unit fails');
      }),
      store.write((tx) => tx.insertPort(port('aa:00:00:00:00:04'))),
      store.read((r) => r.ports('p')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    // the read ran after units 2 and 4 in the same group: it sees them, and was answered after their commit
    const seen = (results[4] as PromiseFulfilledResult<{ mac: string }[]>).value.map((p) => p.mac);
    expect(seen).toEqual(['aa:00:00:00:00:02', 'aa:00:00:00:00:04']);
    expect((await store.read((r) => r.ports('p'))).map((p) => p.mac)).toEqual(['aa:00:00:00:00:02', 'aa:00:00:00:00:04']);
    // and from another connection (committed state only: the failed units left nothing)
    const other = new Database(path, { readonly: true });
    try {
      expect((other.prepare('SELECT mac FROM ports ORDER BY id').all() as { mac: string }[]).map((p) => p.mac)).toEqual(['aa:00:00:00:00:02', 'aa:00:00:00:00:04']);
    } finally {
      other.close();
    }
  });

  it('first-free allocation stays exact when a unit that allocated is rolled back', async () => {
    const subnet = await store.read(async (r) => (await r.subnet(subnetId))!);
    const { id } = await store.write((tx) => tx.insertPort(port('aa:00:00:00:01:01')));
    await expect(
      store.write(async (tx) => {
        const a = await tx.firstFreeAddress(subnet);
        expect(a).toBe('10.1.0.2');
        await tx.insertFixedIp(id, subnetId, a as string);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(await store.write((tx) => tx.firstFreeAddress(subnet))).toBe('10.1.0.2');
    // the same with the search and the insert in one step (that read moved the hint past .2)
    await expect(
      store.write(async (tx) => {
        expect(await tx.takeFirstFree(subnet, id)).toBe('10.1.0.3');
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    // a rollback forgets the hints: the search starts over and finds the lowest free, then the next
    expect(await store.write((tx) => tx.takeFirstFree(subnet, id))).toBe('10.1.0.2');
    expect(await store.write((tx) => tx.takeFirstFree(subnet, id))).toBe('10.1.0.3');
  });

  it('a unit submitted after close is refused', async () => {
    const s = new SqliteStore(join(mkdtempSync(join(tmpdir(), 'plumb-store-')), 'c.db'), logger('test'));
    await s.close();
    await expect(s.read((r) => r.hosts())).rejects.toThrow('the controller store is closed');
  });
});

describe('per-network device limit (a count kept by port create and delete)', () => {
  let ctl: RunningController;
  beforeAll(async () => {
    ctl = await testController({ quotas: { networks: 5, floatingIps: 3, devicesPerNetwork: 2, nicsPerDevice: 3 } });
  });
  afterAll(async () => ctl?.close());

  it('counts devices, not ports; frees a slot when the last port of a device goes', async () => {
    const alice = caller(ctl.url, 'alice', 'pw-a');
    const net = (await alice('POST', '/v2.0/networks', { network: { name: 'limited' } })).body.network as { id: string };
    const create = (device: string) => alice('POST', '/v2.0/ports', { port: { network_id: net.id, device_id: device } });
    const a0 = await create('a');
    const a1 = await create('a'); // a second NIC of the same device does not count
    expect([a0.status, a1.status]).toEqual([201, 201]);
    expect((await create('b')).status).toBe(201);
    const over = await create('c');
    expect(over.status).toBe(413);
    expect(over.body.NeutronError.message).toBe("Limit for resource 'Devices per network' exceeded for your account. Available: 0, Requested: 1");
    await alice('DELETE', `/v2.0/ports/${a0.body.port.id}`);
    expect((await create('c')).status).toBe(413); // device a still has a port here
    await alice('DELETE', `/v2.0/ports/${a1.body.port.id}`);
    expect((await create('c')).status).toBe(201);
    // NICs per device: the fourth port of one device is refused
    await create('c');
    await create('c');
    const nics = await create('c');
    expect(nics.status).toBe(413);
    expect(nics.body.NeutronError.message).toBe("Limit for resource 'NICs per device' exceeded for your account. Available: 0, Requested: 1");
  });
});

describe('schema versions', () => {
  it('refuses a store migrated by a newer plumb, naming the file and both versions, and leaves it as it was', () => {
    const dir = mkdtempSync(join(tmpdir(), 'plumb-schema-'));
    try {
      const path = join(dir, 'controller.db');
      openDb(path).close();
      const raw = new Database(path);
      raw.pragma(`user_version = ${SCHEMA_VERSION + 3}`);
      raw.close();
      expect(() => openDb(path)).toThrow(StoreSchemaNewerError);
      expect(() => openDb(path)).toThrow(`${path}: the store's schema is version ${SCHEMA_VERSION + 3}, newer than this plumb's (${SCHEMA_VERSION}); it was migrated by a newer plumb, and a downgrade is refused.`);
      const after = new Database(path, { readonly: true });
      expect(after.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION + 3);
      after.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
