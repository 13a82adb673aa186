// A controller on a free loopback port with an in-memory-like temp database.
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import pg from 'pg';
import { inject } from 'vitest';
import '../helpers/postgres-setup.js';
import { parseControllerConfig } from '../../src/controller/config.js';
import { PostgresStore } from '../../src/controller/pg-store.js';
import { SqliteStore } from '../../src/controller/sqlite-store.js';
import { startController, type RunningController } from '../../src/controller/server.js';

/** alice's project in the fixture */
export const ALICE = 's0m3-u53r-1d';

/**
 * Where a test controller keeps its state: a new SQLite file, or (in the controller-on-postgresql
 * project, vitest.config.ts) a new database on the run's PostgreSQL server.
 */
export async function testStore(): Promise<Record<string, unknown>> {
  const pgUrl = inject('pgUrl') as string | undefined;
  if (!pgUrl) return { database: join(mkdtempSync(join(tmpdir(), 'plumb-ctl-')), 'controller.db') };
  const name = `t_${process.pid}_${(databases += 1)}`;
  const admin = new pg.Client({ connectionString: pgUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(pgUrl);
  url.pathname = `/${name}`;
  return { store: { type: 'postgresql', url: url.toString(), poolSize: 16 } };
}
let databases = 0;

export async function testController(overrides: Record<string, unknown> = {}): Promise<RunningController> {
  const ctl = await startController(
    parseControllerConfig({
      listen: '127.0.0.1:0',
      ...(await testStore()),
      privateNetworks: { enabledTypes: ['MAC_FILTERED', 'VXLAN'], cidrRange: '192.168.0.0/16' },
      publicNetworks: [{ name: 'public', uplink: 'pub0', routingTable: 100, subnets: [{ cidr: '192.168.3.0/24', gateway: '192.168.3.1', allocationPools: [{ start: '192.168.3.5', end: '192.168.3.20' }] }] }],
      users: [
        { name: 'admin', password: 'a', project: 'admin', roles: ['admin'] },
        { name: 'alice', password: 'pw-a', project: 's0m3-u53r-1d' },
        { name: 'bob', password: 'pw-b', project: 'other-project' },
        // the VM manager (Nova's role): binds ports to hosts for any project
        { name: 'nova', password: 'pw-n', project: 'service', roles: ['service'] },
      ],
      bindingProfile: { netnsAllowed: ['vm-*'] },
      quotas: { networks: 5, floatingIps: 3 },
      ...overrides,
    }),
  );
  // the project's store, or the run proves nothing about it
  const want = inject('pgUrl') === undefined ? SqliteStore : PostgresStore;
  if (!(ctl.service.store instanceof want)) throw new Error(`the test controller runs on ${ctl.service.store.constructor.name}, not ${want.name}`);
  return ctl;
}

export function caller(url: string, user: string, password: string) {
  const auth = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  return async (method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, any> }> => {
    const res = await fetch(`${url}${path}`, { method, headers: { authorization: auth, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, any>) : {} };
  };
}

/** The fixture's four identities: two projects, the operator and the VM manager (service role). */
export function identities(url: string) {
  return { alice: caller(url, 'alice', 'pw-a'), bob: caller(url, 'bob', 'pw-b'), admin: caller(url, 'admin', 'a'), nova: caller(url, 'nova', 'pw-n') };
}
