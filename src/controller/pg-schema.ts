// The PostgreSQL schema with versioned migrations; pg-store.ts is the store built on it. The
// tables and columns are those of the SQLite schema (db.ts) so that both give the same rows
// (rows.ts); the IPAM invariants are held by PostgreSQL's own means: exclusion constraints over
// inet ranges (btree_gist), a pool check in PL/pgSQL, and foreign keys from both address tables.
// Migrations run under an advisory lock: controllers started together migrate once.
import type { PoolClient } from 'pg';
import { StoreSchemaNewerError } from './store-errors.js';

const MIGRATIONS: string[] = [
  `CREATE EXTENSION IF NOT EXISTS btree_gist;
   CREATE TABLE networks (
     id SERIAL PRIMARY KEY, name TEXT NOT NULL, project TEXT, type TEXT NOT NULL,
     public INTEGER NOT NULL DEFAULT 0, segment INTEGER, mac_prefix TEXT, uplink TEXT, routing_table INTEGER,
     admin_state_up INTEGER NOT NULL DEFAULT 1, shared INTEGER NOT NULL DEFAULT 0, devices INTEGER NOT NULL DEFAULT 0 CHECK (devices >= 0),
     created TEXT NOT NULL, updated TEXT NOT NULL);
   CREATE UNIQUE INDEX networks_segment ON networks(type, segment) WHERE segment IS NOT NULL;
   CREATE UNIQUE INDEX networks_mac_prefix ON networks(mac_prefix) WHERE mac_prefix IS NOT NULL;
   CREATE UNIQUE INDEX networks_public_name ON networks(name) WHERE public = 1;

   -- a subnet's pools: every start and end a host address of the subnet (not its network
   -- address, nor its IPv4 broadcast), start <= end, no pool holding the gateway, pools disjoint
   CREATE FUNCTION plumb_pools_valid(c TEXT, pools TEXT, gw TEXT) RETURNS BOOLEAN LANGUAGE plpgsql IMMUTABLE AS $$
   DECLARE
     net CIDR; list JSONB; n INT; s INET; e INET; s2 INET; e2 INET;
   BEGIN
     net := c::cidr;
     list := pools::jsonb;
     IF jsonb_typeof(list) <> 'array' THEN RETURN FALSE; END IF;
     n := jsonb_array_length(list);
     FOR i IN 0 .. n - 1 LOOP
       s := (list -> i ->> 'start')::inet;
       e := (list -> i ->> 'end')::inet;
       IF s IS NULL OR e IS NULL OR masklen(s) <> masklen(host(s)::inet) OR masklen(e) <> masklen(host(e)::inet) THEN RETURN FALSE; END IF;
       IF NOT (s << net AND e << net) OR s > e THEN RETURN FALSE; END IF;
       IF family(net) = 4 AND host(e)::inet = host(broadcast(net))::inet THEN RETURN FALSE; END IF;
       IF host(s)::inet = host(network(net))::inet THEN RETURN FALSE; END IF;
       IF gw IS NOT NULL AND family(gw::inet) = family(net) AND gw::inet BETWEEN s AND e THEN RETURN FALSE; END IF;
       FOR j IN i + 1 .. n - 1 LOOP
         s2 := (list -> j ->> 'start')::inet;
         e2 := (list -> j ->> 'end')::inet;
         IF NOT (e2 < s OR s2 > e) THEN RETURN FALSE; END IF;
       END LOOP;
     END LOOP;
     RETURN TRUE;
   EXCEPTION WHEN OTHERS THEN
     RETURN FALSE;
   END $$;

   CREATE TABLE subnets (
     id SERIAL PRIMARY KEY, network_id INTEGER NOT NULL REFERENCES networks(id), project TEXT,
     name TEXT NOT NULL DEFAULT '', cidr TEXT NOT NULL, ip_version INTEGER NOT NULL, gateway TEXT,
     pools TEXT NOT NULL, dns TEXT NOT NULL DEFAULT '[]', enable_dhcp INTEGER NOT NULL DEFAULT 1, host_routes TEXT NOT NULL DEFAULT '[]',
     CONSTRAINT subnets_no_overlap EXCLUDE USING gist (network_id WITH =, (cidr::inet) inet_ops WITH &&),
     CONSTRAINT subnets_public_no_overlap EXCLUDE USING gist ((cidr::inet) inet_ops WITH &&) WHERE (project IS NULL),
     CONSTRAINT subnets_pools_valid CHECK (plumb_pools_valid(cidr, pools, gateway)));
   CREATE UNIQUE INDEX subnets_private_cidr ON subnets(cidr) WHERE project IS NOT NULL;

   -- pools, CIDR and gateway never change once a subnet exists
   CREATE FUNCTION plumb_subnets_fixed() RETURNS TRIGGER LANGUAGE plpgsql AS $$
   BEGIN
     IF NEW.cidr IS DISTINCT FROM OLD.cidr OR NEW.pools IS DISTINCT FROM OLD.pools OR NEW.gateway IS DISTINCT FROM OLD.gateway OR NEW.network_id IS DISTINCT FROM OLD.network_id THEN
       RAISE EXCEPTION 'plumb invariant subnet-pools';
     END IF;
     RETURN NEW;
   END $$;
   CREATE TRIGGER subnets_pools_fixed BEFORE UPDATE ON subnets FOR EACH ROW EXECUTE FUNCTION plumb_subnets_fixed();

   CREATE TABLE ports (
     id SERIAL PRIMARY KEY, network_id INTEGER NOT NULL REFERENCES networks(id), project TEXT,
     name TEXT NOT NULL, device_id TEXT NOT NULL DEFAULT '', device_owner TEXT NOT NULL DEFAULT '', nic_index INTEGER,
     mac TEXT NOT NULL UNIQUE, host TEXT, status TEXT NOT NULL, status_reason TEXT, revision INTEGER NOT NULL DEFAULT 1,
     profile TEXT NOT NULL DEFAULT '{}', firewall_profile TEXT NOT NULL DEFAULT 'DISABLED',
     migrating_to TEXT, standby_status TEXT, standby_reason TEXT, activating_from TEXT, activating_after INTEGER,
     created TEXT NOT NULL, updated TEXT NOT NULL);
   CREATE INDEX ports_device ON ports(device_id, nic_index);
   CREATE INDEX ports_project_device ON ports(project, device_id, nic_index);
   CREATE INDEX ports_network_host ON ports(network_id, host);
   CREATE INDEX ports_host ON ports(host);
   CREATE INDEX ports_migrating_to ON ports(migrating_to) WHERE migrating_to IS NOT NULL;
   CREATE INDEX ports_activating ON ports(activating_from) WHERE activating_from IS NOT NULL;

   -- seq keeps allocation order (a port's addresses are shown in the order they were given)
   CREATE TABLE fixed_ips (
     seq BIGSERIAL PRIMARY KEY,
     port_id INTEGER NOT NULL REFERENCES ports(id) ON DELETE CASCADE,
     subnet_id INTEGER NOT NULL REFERENCES subnets(id) ON DELETE RESTRICT,
     ip TEXT NOT NULL, UNIQUE (subnet_id, ip));
   CREATE INDEX fixed_ips_port ON fixed_ips(port_id);
   CREATE TABLE floating_ips (
     id SERIAL PRIMARY KEY, project TEXT NOT NULL, network_id INTEGER NOT NULL REFERENCES networks(id),
     subnet_id INTEGER NOT NULL REFERENCES subnets(id) ON DELETE RESTRICT,
     ip TEXT NOT NULL, port_id INTEGER REFERENCES ports(id) ON DELETE SET NULL, with_port INTEGER NOT NULL DEFAULT 0,
     created TEXT NOT NULL, UNIQUE (subnet_id, ip));
   CREATE INDEX floating_ips_port ON floating_ips(port_id) WHERE port_id IS NOT NULL;
   CREATE INDEX floating_ips_project ON floating_ips(project);

   CREATE TABLE hosts (id TEXT PRIMARY KEY, underlay TEXT, version TEXT, last_seen TEXT, generation INTEGER NOT NULL DEFAULT 0);`,
  // first-free allocation without a scan of the used addresses: each subnet keeps the lowest
  // address that may be free (NULL: its pools' start), moved up by allocations and down by
  // frees in the same transactions, under the subnet's advisory lock (pg-queries.ts), so it is
  // exact whichever controller allocates or frees; the search from it is index lookups
  `ALTER TABLE subnets ADD COLUMN alloc_hint TEXT;
   CREATE INDEX fixed_ips_subnet_inet ON fixed_ips (subnet_id, (ip::inet));
   CREATE INDEX floating_ips_subnet_inet ON floating_ips (subnet_id, (ip::inet));
   -- takes the subnet's advisory lock first (pg-queries.ts: the same key), then reads with a
   -- snapshot taken after it: one round trip for the lock and the search
   CREATE FUNCTION plumb_take_first_free(sid INT, lock_key TEXT) RETURNS TEXT LANGUAGE plpgsql AS $$
   DECLARE
     s RECORD; p JSONB; a INET; e INET; h INET; g INET;
   BEGIN
     PERFORM pg_advisory_xact_lock(hashtext(lock_key));
     SELECT pools, gateway, alloc_hint INTO s FROM subnets WHERE id = sid;
     IF NOT FOUND THEN RETURN NULL; END IF;
     h := s.alloc_hint::inet;
     g := s.gateway::inet;
     FOR p IN SELECT value FROM jsonb_array_elements(s.pools::jsonb) LOOP
       a := (p ->> 'start')::inet;
       e := (p ->> 'end')::inet;
       IF h IS NOT NULL AND family(h) = family(a) AND h > a THEN a := h; END IF;
       WHILE a <= e LOOP
         IF (g IS NULL OR family(g) <> family(a) OR a <> g)
            AND NOT EXISTS (SELECT 1 FROM fixed_ips WHERE subnet_id = sid AND ip::inet = a)
            AND NOT EXISTS (SELECT 1 FROM floating_ips WHERE subnet_id = sid AND ip::inet = a) THEN
           UPDATE subnets SET alloc_hint = host(a + 1) WHERE id = sid;
           RETURN host(a);
         END IF;
         a := a + 1;
       END LOOP;
     END LOOP;
     RETURN NULL;
   END $$;
   -- a check and its lock in one round trip: in a VOLATILE function each statement reads with a
   -- snapshot of its own, so the read after the lock sees every unit that held it before
   CREATE FUNCTION plumb_locked_devices(nid INT, lock_key TEXT) RETURNS INT LANGUAGE plpgsql AS $$
   BEGIN
     PERFORM pg_advisory_xact_lock(hashtext(lock_key));
     RETURN (SELECT devices FROM networks WHERE id = nid);
   END $$;
   CREATE FUNCTION plumb_locked_device_ports(proj TEXT, dev TEXT, lock_key TEXT) RETURNS TABLE ("networkId" INT, "nicIndex" INT) LANGUAGE plpgsql AS $$
   BEGIN
     PERFORM pg_advisory_xact_lock(hashtext(lock_key));
     RETURN QUERY SELECT network_id, nic_index FROM ports WHERE project IS NOT DISTINCT FROM proj AND device_id = dev;
   END $$;
   CREATE FUNCTION plumb_locked_count_floating_ips(proj TEXT, lock_key TEXT) RETURNS INT LANGUAGE plpgsql AS $$
   BEGIN
     PERFORM pg_advisory_xact_lock(hashtext(lock_key));
     RETURN (SELECT COUNT(*)::int FROM floating_ips WHERE project = proj);
   END $$;`,
];

/** The schema version this plumb writes. */
export const PG_SCHEMA_VERSION = MIGRATIONS.length;

/** An arbitrary constant: the advisory lock the controllers take to migrate one at a time. */
const MIGRATION_LOCK = 0x706c756d; // "plum"

/** Brings the database to PG_SCHEMA_VERSION, refusing one migrated by a newer plumb (`where` names it). */
export async function migrate(c: PoolClient, where: string): Promise<void> {
  await c.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
  try {
    await c.query('CREATE TABLE IF NOT EXISTS plumb_schema (version INTEGER NOT NULL)');
    const got = await c.query<{ version: number }>('SELECT version FROM plumb_schema');
    const version = got.rows[0]?.version ?? 0;
    if (got.rows.length === 0) await c.query('INSERT INTO plumb_schema (version) VALUES (0)');
    if (version > PG_SCHEMA_VERSION) throw new StoreSchemaNewerError(where, version, PG_SCHEMA_VERSION);
    for (let v = version; v < MIGRATIONS.length; v++) {
      await c.query('BEGIN');
      try {
        await c.query(MIGRATIONS[v] as string);
        await c.query('UPDATE plumb_schema SET version = $1', [v + 1]);
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK');
        throw err;
      }
    }
  } finally {
    await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
  }
}
