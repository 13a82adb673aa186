// The SQLite schema (better-sqlite3, WAL) with versioned migrations; sqlite-store.ts is the
// store built on it. WAL with synchronous=NORMAL: a commit is atomic and consistent, and survives
// a crash of the process; after a power loss or kernel crash the last commits since the most
// recent WAL sync (at checkpoint) may be lost, never half-applied.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Pool } from './ipam.js';
import { cidrsOverlap, poolsProblem } from './ipam-rules.js';
import { StoreSchemaNewerError } from './store-errors.js';

export type Db = Database.Database;

const MIGRATIONS: string[] = [
  `CREATE TABLE networks (
     id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, project TEXT, type TEXT NOT NULL,
     public INTEGER NOT NULL DEFAULT 0, segment INTEGER, mac_prefix TEXT, uplink TEXT, routing_table INTEGER,
     admin_state_up INTEGER NOT NULL DEFAULT 1, shared INTEGER NOT NULL DEFAULT 0, created TEXT NOT NULL, updated TEXT NOT NULL);
   CREATE UNIQUE INDEX networks_segment ON networks(type, segment) WHERE segment IS NOT NULL;
   CREATE UNIQUE INDEX networks_mac_prefix ON networks(mac_prefix) WHERE mac_prefix IS NOT NULL;
   CREATE TABLE subnets (
     id INTEGER PRIMARY KEY AUTOINCREMENT, network_id INTEGER NOT NULL REFERENCES networks(id), project TEXT,
     name TEXT NOT NULL DEFAULT '', cidr TEXT NOT NULL, ip_version INTEGER NOT NULL, gateway TEXT,
     pools TEXT NOT NULL, dns TEXT NOT NULL DEFAULT '[]', enable_dhcp INTEGER NOT NULL DEFAULT 1, host_routes TEXT NOT NULL DEFAULT '[]');
   CREATE UNIQUE INDEX subnets_private_cidr ON subnets(cidr) WHERE project IS NOT NULL;
   CREATE TABLE ports (
     id INTEGER PRIMARY KEY AUTOINCREMENT, network_id INTEGER NOT NULL REFERENCES networks(id), project TEXT,
     name TEXT NOT NULL, device_id TEXT NOT NULL DEFAULT '', device_owner TEXT NOT NULL DEFAULT '', nic_index INTEGER,
     mac TEXT NOT NULL UNIQUE, host TEXT, status TEXT NOT NULL, status_reason TEXT, revision INTEGER NOT NULL DEFAULT 1,
     profile TEXT NOT NULL DEFAULT '{}', firewall_profile TEXT NOT NULL DEFAULT 'DISABLED', created TEXT NOT NULL, updated TEXT NOT NULL);
   CREATE TABLE fixed_ips (
     port_id INTEGER NOT NULL REFERENCES ports(id) ON DELETE CASCADE, subnet_id INTEGER NOT NULL REFERENCES subnets(id),
     ip TEXT NOT NULL, UNIQUE(subnet_id, ip));
   CREATE TABLE floating_ips (
     id INTEGER PRIMARY KEY AUTOINCREMENT, project TEXT NOT NULL, network_id INTEGER NOT NULL, subnet_id INTEGER NOT NULL,
     ip TEXT NOT NULL, port_id INTEGER REFERENCES ports(id) ON DELETE SET NULL, created TEXT NOT NULL, UNIQUE(subnet_id, ip));
   CREATE TABLE hosts (id TEXT PRIMARY KEY, underlay TEXT, version TEXT, last_seen TEXT, generation INTEGER NOT NULL DEFAULT 0);`,
  `CREATE INDEX ports_device ON ports(device_id, nic_index);
   CREATE INDEX ports_network_device ON ports(network_id, device_id);
   CREATE INDEX ports_network_host ON ports(network_id, host);
   CREATE INDEX ports_host ON ports(host);
   CREATE INDEX fixed_ips_port ON fixed_ips(port_id);`,
  // the per-network device limit reads a count kept by port inserts and deletes instead of a
  // COUNT(DISTINCT device_id) over every port of the network per new device
  `ALTER TABLE networks ADD COLUMN devices INTEGER NOT NULL DEFAULT 0;
   UPDATE networks SET devices = (SELECT COUNT(DISTINCT device_id) FROM ports WHERE ports.network_id = networks.id AND device_id != '');`,
  // unused since the device count is kept (a device's ports are found through ports_device):
  // one page less to write per port insert and delete
  `DROP INDEX ports_network_device;`,
  // the IPAM invariants, held by the store itself (the service checks them first, with errors
  // naming the field): no two subnets of a network overlap, nor two of the routed public
  // networks (project NULL); pools lie inside their subnet, start <= end, disjoint, without the
  // gateway; a subnet used by a fixed or floating address is not deleted. The messages are
  // matched by sqlite-store.ts (INVARIANT_PREFIX) and turned into typed errors.
  `CREATE TRIGGER subnets_no_overlap BEFORE INSERT ON subnets
     WHEN EXISTS (SELECT 1 FROM subnets s WHERE (s.network_id = NEW.network_id OR (NEW.project IS NULL AND s.project IS NULL)) AND plumb_cidrs_overlap(s.cidr, NEW.cidr))
     BEGIN SELECT RAISE(ABORT, 'plumb invariant subnet-overlap'); END;
   CREATE TRIGGER subnets_pools_valid BEFORE INSERT ON subnets
     WHEN NOT plumb_pools_valid(NEW.cidr, NEW.pools, NEW.gateway)
     BEGIN SELECT RAISE(ABORT, 'plumb invariant subnet-pools'); END;
   CREATE TRIGGER subnets_pools_fixed BEFORE UPDATE OF cidr, pools, gateway, network_id ON subnets
     BEGIN SELECT RAISE(ABORT, 'plumb invariant subnet-pools'); END;
   CREATE TRIGGER subnets_in_use BEFORE DELETE ON subnets
     WHEN EXISTS (SELECT 1 FROM fixed_ips WHERE subnet_id = OLD.id) OR EXISTS (SELECT 1 FROM floating_ips WHERE subnet_id = OLD.id)
     BEGIN SELECT RAISE(ABORT, 'plumb invariant subnet-in-use'); END;`,
  // a public address taken by a port without a reserved floating IP becomes a floating IP of
  // the port's project (counted against its quota) that goes with the port when it is deleted
  `ALTER TABLE floating_ips ADD COLUMN with_port INTEGER NOT NULL DEFAULT 0;`,
  // devices belong to projects: a device's ports (NIC indexes, per-device limits) are found per project
  `CREATE INDEX ports_project_device ON ports(project, device_id, nic_index);`,
  // live migration (binding:profile.migrating_to, as Nova sets it): the port is on its host and,
  // standing by, on the destination; the destination agent's readiness is kept apart from status
  `ALTER TABLE ports ADD COLUMN migrating_to TEXT;
   ALTER TABLE ports ADD COLUMN standby_status TEXT;
   ALTER TABLE ports ADD COLUMN standby_reason TEXT;
   CREATE INDEX ports_migrating_to ON ports(migrating_to) WHERE migrating_to IS NOT NULL;`,
  // the switch of a live migration, in order: the port stays standing by on its new host until
  // the old host's agent has applied the generation without it (never routed by two hosts)
  `ALTER TABLE ports ADD COLUMN activating_from TEXT;
   ALTER TABLE ports ADD COLUMN activating_after INTEGER;
   CREATE INDEX ports_activating ON ports(activating_from) WHERE activating_from IS NOT NULL;`,
];

export const INVARIANT_PREFIX = 'plumb invariant ';

/** The SQL functions the invariant triggers call; every connection that writes subnets needs them. */
function registerFunctions(db: Db): void {
  db.function('plumb_cidrs_overlap', { deterministic: true }, (a: unknown, b: unknown) => (cidrsOverlap(String(a), String(b)) ? 1 : 0));
  db.function('plumb_pools_valid', { deterministic: true }, (cidr: unknown, pools: unknown, gateway: unknown) => {
    try {
      const list = JSON.parse(String(pools)) as Pool[];
      return Array.isArray(list) && poolsProblem(String(cidr), list, gateway === null ? null : String(gateway)) === undefined ? 1 : 0;
    } catch {
      return 0;
    }
  });
}

/** The schema version this plumb writes: a store at a higher one was migrated by a newer plumb. */
export const SCHEMA_VERSION = MIGRATIONS.length;

export function openDb(path: string): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('synchronous = NORMAL');
  registerFunctions(db);
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    db.close();
    throw new StoreSchemaNewerError(path, version, SCHEMA_VERSION);
  }
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v] as string);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return db;
}
