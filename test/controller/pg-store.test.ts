// The PostgreSQL store for real (a server this file starts with initdb and pg_ctl, and removes):
// an unreachable database named at start, two controller instances allocating from one pool and
// one quota at once (each address given once, the quota exact, the same errors as one instance,
// first-free still first-free), a database killed under load (503 with Retry-After, nothing
// half-applied, the controllers resume by themselves), and a schema from a newer plumb refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { parseControllerConfig } from '../../src/controller/config.js';
import { PG_SCHEMA_VERSION } from '../../src/controller/pg-schema.js';
import { PostgresStore } from '../../src/controller/pg-store.js';
import { startController, type RunningController } from '../../src/controller/server.js';
import { StoreSchemaNewerError, StoreUnavailableError } from '../../src/controller/store-errors.js';
import { PostgresServer } from '../../src/lab/postgres.js';
import { logger } from '../../src/util/log.js';
import { storeProblems } from '../helpers/store-invariants.js';
import { caller, testController } from './fixture.js';

let server: PostgresServer;
beforeAll(async () => {
  server = await PostgresServer.create({ fsync: false });
}, 60_000);
afterAll(async () => server?.remove());

let dbs = 0;
/** A new database on the server, as a controller's store config. */
async function database(): Promise<{ type: 'postgresql'; url: string; poolSize: number }> {
  const name = `ha_${(dbs += 1)}`;
  await server.psql('postgres', `CREATE DATABASE ${name}`);
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  return { type: 'postgresql', url: url.toString(), poolSize: 16 };
}

const USERS = [
  { name: 'admin', password: 'a', project: 'admin', roles: ['admin'] },
  { name: 'alice', password: 'pw-a', project: 'p1' },
];
const PUBLIC = [{ name: 'public', uplink: 'pub0', routingTable: 100, subnets: [{ cidr: '192.168.3.0/24', gateway: '192.168.3.1', allocationPools: [{ start: '192.168.3.5', end: '192.168.3.40' }] }] }];
const QUOTAS = { networks: 5, floatingIps: 7, devicesPerNetwork: 1000, nicsPerDevice: 15 };

function instance(store: Record<string, unknown>): Promise<RunningController> {
  return startController(parseControllerConfig({ listen: '127.0.0.1:0', ...store, users: USERS, publicNetworks: PUBLIC, quotas: QUOTAS }));
}

describe('PostgreSQL store: start', () => {
  it('an unreachable database is an error naming its URL (without the password)', async () => {
    const dead = `postgresql://plumb:secret-pw@127.0.0.1:1/plumb`;
    const err = await PostgresStore.open({ url: dead, poolSize: 2, connectTimeoutMs: 1000 }, logger('test')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as Error).message).toMatch(/^the controller store at postgresql:\/\/plumb:\*\*\*@127\.0\.0\.1:1\/plumb is unavailable: /);
    expect((err as Error).message).not.toContain('secret-pw');
  });

  it('refuses a database migrated by a newer plumb, naming it, and leaves it as it was', async () => {
    const cfg = await database();
    const s = await PostgresStore.open(cfg, logger('test'));
    await s.sql('UPDATE plumb_schema SET version = version + 5');
    await s.close();
    const err = await PostgresStore.open(cfg, logger('test')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreSchemaNewerError);
    expect((err as Error).message).toContain(`${cfg.url.replace(/:[^:@/]+@/, ':***@')}: the store's schema is version ${PG_SCHEMA_VERSION + 5}, newer than this plumb's (${PG_SCHEMA_VERSION})`);
    expect(await server.psql(new URL(cfg.url).pathname.slice(1), 'SELECT version FROM plumb_schema')).toBe(String(PG_SCHEMA_VERSION + 5));
  });
});

describe('two controller instances on one PostgreSQL', () => {
  let a: RunningController;
  let b: RunningController;
  let one: RunningController; // the same config on SQLite, for the errors one instance gives
  beforeAll(async () => {
    const store = await database();
    // started together: the configured public network is made once
    [a, b] = await Promise.all([instance({ store }), instance({ store })]);
    one = await testController({ users: USERS, publicNetworks: PUBLIC, quotas: QUOTAS });
  }, 60_000);
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close(), one?.close()]);
  });

  /** a network with one subnet whose pool is exactly 250 addresses */
  async function pool250(url: string): Promise<{ net: string; subnet: string }> {
    const alice = caller(url, 'alice', 'pw-a');
    const net = (await alice('POST', '/v2.0/networks', { network: { name: 'pool250' } })).body.network as { id: string; subnets: string[] };
    for (const s of net.subnets) await alice('DELETE', `/v2.0/subnets/${s}`);
    const sub = await alice('POST', '/v2.0/subnets', { subnet: { network_id: net.id, cidr: '10.50.0.0/24', ip_version: 4, gateway_ip: '10.50.0.1', allocation_pools: [{ start: '10.50.0.2', end: '10.50.0.251' }] } });
    expect(sub.status).toBe(201);
    return { net: net.id, subnet: sub.body.subnet.id as string };
  }

  /** 32 clients on each URL take ports until the pool is exhausted, and floating IPs until the quota is. */
  async function race(urls: string[], net: string): Promise<{ ips: string[]; fips: string[]; portRefusals: unknown[]; fipRefusals: unknown[] }> {
    const ips: string[] = [];
    const fips: string[] = [];
    const portRefusals: unknown[] = [];
    const fipRefusals: unknown[] = [];
    const client = async (url: string): Promise<void> => {
      const alice = caller(url, 'alice', 'pw-a');
      for (;;) {
        const r = await alice('POST', '/v2.0/ports', { port: { network_id: net } });
        if (r.status !== 201) {
          expect(r.status, JSON.stringify(r.body)).toBe(409);
          portRefusals.push(r.body);
          break;
        }
        ips.push(r.body.port.fixed_ips[0].ip_address as string);
      }
      const f = await alice('POST', '/v2.0/floatingips', { floatingip: { floating_network_id: '1' } });
      if (f.status === 201) fips.push(f.body.floatingip.floating_ip_address as string);
      else {
        expect(f.status, JSON.stringify(f.body)).toBe(413);
        fipRefusals.push(f.body);
      }
    };
    await Promise.all(urls.flatMap((u) => Array.from({ length: 32 }, () => client(u))));
    return { ips, fips, portRefusals, fipRefusals };
  }

  it('64 clients through both: every address once, the quota exact, the same 409 and 413 as one instance, first-free stays first-free', async () => {
    const reference = await race([one.url, one.url], (await pool250(one.url)).net);
    const { net, subnet } = await pool250(a.url);
    const t0 = Date.now();
    const got = await race([a.url, b.url], net);
    const retries = [a, b].map((c) => c.service.store.counters().retries);
    console.log(`two instances: 250 ports and ${QUOTAS.floatingIps} floating IPs for 64 clients in ${Date.now() - t0} ms; units run again after a collision: ${retries.join(' + ')}`);
    expect(got.ips).toHaveLength(250);
    expect(new Set(got.ips).size).toBe(250);
    expect(got.fips).toHaveLength(QUOTAS.floatingIps);
    expect(new Set(got.fips).size).toBe(QUOTAS.floatingIps);
    expect(got.portRefusals).toHaveLength(64);
    expect(got.fipRefusals).toHaveLength(64 - QUOTAS.floatingIps);
    // the same refusals, word for word, as one controller gives
    expect(new Set(got.portRefusals.map((r) => JSON.stringify(r)))).toEqual(new Set(reference.portRefusals.map((r) => JSON.stringify(r))));
    expect(new Set(got.fipRefusals.map((r) => JSON.stringify(r)))).toEqual(new Set(reference.fipRefusals.map((r) => JSON.stringify(r))));
    // both instances see the same store, and it holds its invariants
    const alice = caller(a.url, 'alice', 'pw-a');
    const viaB = caller(b.url, 'alice', 'pw-a');
    const ports = (await viaB('GET', '/v2.0/ports')).body.ports as { id: string; fixed_ips: { ip_address: string }[] }[];
    expect(ports).toHaveLength(250);
    expect(await storeProblems(a.service.store, a.service.cfg, ['p1'])).toEqual([]);
    // free .7 through one instance and .100 through the other: the next two allocations, through
    // either, are exactly those, lowest first
    const holder = (ip: string) => ports.find((p) => p.fixed_ips[0]?.ip_address === ip)!.id;
    expect((await alice('DELETE', `/v2.0/ports/${holder('10.50.0.100')}`)).status).toBe(204);
    expect((await viaB('DELETE', `/v2.0/ports/${holder('10.50.0.7')}`)).status).toBe(204);
    const next1 = await viaB('POST', '/v2.0/ports', { port: { network_id: net, fixed_ips: [{ subnet_id: subnet }] } });
    const next2 = await alice('POST', '/v2.0/ports', { port: { network_id: net } });
    expect([next1.body.port.fixed_ips[0].ip_address, next2.body.port.fixed_ips[0].ip_address]).toEqual(['10.50.0.7', '10.50.0.100']);
  }, 120_000);
});

describe('the per-network device limit across two instances', () => {
  it('64 clients, 20 devices allowed: exactly 20 get in, the rest the 413 one instance gives; creations and deletions of one device racing keep the count exact', async () => {
    const store = await database();
    const quotas = { ...QUOTAS, devicesPerNetwork: 20 };
    const start = (extra: Record<string, unknown>): Promise<RunningController> => startController(parseControllerConfig({ listen: '127.0.0.1:0', ...extra, users: USERS, publicNetworks: PUBLIC, quotas }));
    const [a, b] = await Promise.all([start({ store }), start({ store })]);
    const one = await testController({ users: USERS, publicNetworks: PUBLIC, quotas });
    try {
      const refused = async (url: string, other: string): Promise<{ ok: string[]; refusals: string[] }> => {
        const net = (await caller(url, 'alice', 'pw-a')('POST', '/v2.0/networks', { network: { name: 'devices', cidr: '10.70.0.0/24' } })).body.network as { id: string };
        const ok: string[] = [];
        const refusals: string[] = [];
        await Promise.all(
          Array.from({ length: 64 }, async (_, i) => {
            const r = await caller(i % 2 ? other : url, 'alice', 'pw-a')('POST', '/v2.0/ports', { port: { network_id: net.id, device_id: `vm-${i}` } });
            if (r.status === 201) ok.push(r.body.port.device_id as string);
            else refusals.push(`${r.status} ${JSON.stringify(r.body)}`);
          }),
        );
        return { ok, refusals };
      };
      const reference = await refused(one.url, one.url);
      const got = await refused(a.url, b.url);
      expect(got.ok).toHaveLength(20);
      expect(got.refusals).toHaveLength(44);
      expect(new Set(got.refusals)).toEqual(new Set(['413 {"NeutronError":{"type":"OverQuota","message":"Limit for resource \'Devices per network\' exceeded for your account. Available: 0, Requested: 1","detail":""}}']));
      expect(new Set(got.refusals)).toEqual(new Set(reference.refusals));
      expect(await storeProblems(a.service.store, a.service.cfg, ['p1'])).toEqual([]);
      // each device that got in: its port deleted through one instance while a second port of it
      // is made through the other (new on the network, or not, depending on which commits first)
      const ports = (await caller(a.url, 'alice', 'pw-a')('GET', '/v2.0/ports')).body.ports as { id: string; device_id: string; network_id: string }[];
      const statuses = await Promise.all(
        ports.flatMap((p) => [
          caller(a.url, 'alice', 'pw-a')('DELETE', `/v2.0/ports/${p.id}`).then((r) => r.status),
          caller(b.url, 'alice', 'pw-a')('POST', '/v2.0/ports', { port: { network_id: p.network_id, device_id: p.device_id } }).then((r) => r.status),
        ]),
      );
      expect(new Set(statuses)).toEqual(new Set([204, 201]));
      expect(await storeProblems(a.service.store, a.service.cfg, ['p1'])).toEqual([]);
    } finally {
      await Promise.all([a.close(), b.close(), one.close()]);
    }
  }, 120_000);
});

describe('the database killed under load', () => {
  it('503 with Retry-After while it is away, nothing half-applied, and the controllers resume by themselves', async () => {
    const store = await database();
    const [a, b] = await Promise.all([instance({ store }), instance({ store })]);
    try {
      const alice = caller(a.url, 'alice', 'pw-a');
      const net = (await alice('POST', '/v2.0/networks', { network: { name: 'n', cidr: '10.60.0.0/22' } })).body.network as { id: string };
      const statuses = new Map<number, number>();
      const created: string[] = [];
      let retryAfter: string | null = null;
      let stop = false;
      const churn = async (url: string): Promise<void> => {
        const auth = `Basic ${Buffer.from('alice:pw-a').toString('base64')}`;
        while (!stop) {
          const res = await fetch(`${url}/v2.0/ports`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify({ port: { network_id: net.id } }) });
          const body = (await res.json()) as { port?: { id: string } };
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status === 201 && body.port) created.push(body.port.id);
          if (res.status === 503) {
            retryAfter = res.headers.get('retry-after');
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      };
      const clients = [a.url, b.url, a.url, b.url].map(churn);
      await new Promise((r) => setTimeout(r, 700));
      await server.kill();
      const killedAt = Date.now();
      await new Promise((r) => setTimeout(r, 1500));
      const during = statuses.get(503) ?? 0;
      await server.start();
      // the first change applied after the database returned, through each instance
      const back = async (url: string): Promise<number> => {
        const c = caller(url, 'alice', 'pw-a');
        for (;;) {
          if ((await c('GET', '/v2.0/networks')).status === 200) return Date.now();
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      const [ba, bb] = await Promise.all([back(a.url), back(b.url)]);
      await new Promise((r) => setTimeout(r, 500));
      stop = true;
      await Promise.all(clients);
      console.log(`database away ${Date.now() - killedAt} ms overall; answers by status: ${JSON.stringify(Object.fromEntries(statuses))}; instances serving again ${ba - killedAt} / ${bb - killedAt} ms after the kill`);
      expect(during).toBeGreaterThan(0);
      expect(retryAfter).toBe('2');
      expect([...statuses.keys()].every((s) => s === 201 || s === 503)).toBe(true);
      // every 201 is a port in the store, with its address; nothing else is there
      const ports = (await alice('GET', '/v2.0/ports')).body.ports as { id: string; fixed_ips: unknown[] }[];
      const ids = new Set(ports.map((p) => p.id));
      for (const id of created) expect(ids.has(id)).toBe(true);
      // a commit whose answer was lost with the connection may exist without a 201: never more than the clients
      expect(ports.length - created.length).toBeGreaterThanOrEqual(0);
      expect(ports.length - created.length).toBeLessThanOrEqual(4);
      expect(ports.every((p) => p.fixed_ips.length === 1)).toBe(true);
      expect(await storeProblems(a.service.store, a.service.cfg, ['p1'])).toEqual([]);
      expect((await caller(b.url, 'alice', 'pw-a')('POST', '/v2.0/ports', { port: { network_id: net.id } })).status).toBe(201);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }, 120_000);
});

describe('the invariants hold against any client of the database', () => {
  it('psql cannot insert overlapping subnets, bad pools, or delete a subnet in use', async () => {
    const cfg = await database();
    const s = await PostgresStore.open(cfg, logger('test'));
    try {
      const c = new pg.Client({ connectionString: cfg.url });
      await c.connect();
      try {
        await c.query("INSERT INTO networks (name, project, type, created, updated) VALUES ('n', 'p', 'MAC_FILTERED', 'x', 'x')");
        const ins = (cidr: string, gw: string | null, pools: string) => c.query('INSERT INTO subnets (network_id, project, cidr, ip_version, gateway, pools) VALUES (1, $1, $2, 4, $3, $4)', ['p', cidr, gw, pools]);
        await ins('10.1.0.0/24', '10.1.0.1', '[{"start":"10.1.0.2","end":"10.1.0.254"}]');
        await expect(ins('10.1.0.128/25', null, '[]')).rejects.toThrow(/subnets_no_overlap/);
        await expect(ins('10.2.0.0/24', '10.2.0.5', '[{"start":"10.2.0.2","end":"10.2.0.9"}]')).rejects.toThrow(/subnets_pools_valid/);
        await expect(ins('10.2.0.0/24', null, '[{"start":"10.2.0.9","end":"10.2.0.2"}]')).rejects.toThrow(/subnets_pools_valid/);
        await expect(ins('10.2.0.0/24', null, '[{"start":"10.2.0.0","end":"10.2.0.2"}]')).rejects.toThrow(/subnets_pools_valid/);
        await expect(ins('10.2.0.0/24', null, '[{"start":"10.2.0.2","end":"10.2.0.255"}]')).rejects.toThrow(/subnets_pools_valid/);
        await expect(ins('10.2.0.0/24', null, '[{"start":"10.2.0.2","end":"10.2.0.9"},{"start":"10.2.0.9","end":"10.2.0.20"}]')).rejects.toThrow(/subnets_pools_valid/);
        await expect(ins('10.2.0.0/24', null, '[{"start":"10.3.0.2","end":"10.3.0.9"}]')).rejects.toThrow(/subnets_pools_valid/);
        await expect(c.query(`UPDATE subnets SET pools = '[]'`)).rejects.toThrow(/plumb invariant subnet-pools/);
        await c.query("INSERT INTO ports (network_id, project, name, mac, status, created, updated) VALUES (1, 'p', '', 'aa:00:00:00:00:01', 'BUILD', 'x', 'x')");
        await c.query("INSERT INTO fixed_ips (port_id, subnet_id, ip) VALUES (1, 1, '10.1.0.2')");
        await expect(c.query('DELETE FROM subnets WHERE id = 1')).rejects.toThrow(/fixed_ips/);
      } finally {
        await c.end();
      }
    } finally {
      await s.close();
    }
  });
});
