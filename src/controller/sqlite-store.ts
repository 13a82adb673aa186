// The SQLite implementation of the controller store (better-sqlite3, WAL, synchronous=NORMAL).
//
// One connection writes; every unit (read or write) runs on it one at a time, in arrival order,
// so no unit ever sees another half-done. A write unit runs inside a SAVEPOINT of a transaction
// shared by the units that arrive in the same event-loop turn (group commit): a unit that fails
// is rolled back to its savepoint alone; the shared transaction commits once at the end of the
// turn (setImmediate) and only then are the units' promises resolved, so no caller ever sees, or
// answers with, data that is not committed. If the commit itself fails, every unit of the group
// is rejected and nothing of them is applied. Reads that arrive while a group is open join it
// (they see its units' writes) and resolve after its commit for the same reason.
// Checkpoints run off the event loop: the writer's auto-checkpoint is off and a worker thread
// with its own connection runs PRAGMA wal_checkpoint(PASSIVE) every CHECKPOINT_MS (a passive
// checkpoint never blocks the writer). With synchronous=NORMAL a commit is then only writes into
// the WAL (no fsync; it survives a crash of the process); the WAL is fsynced at each checkpoint,
// so a power loss or kernel crash can lose the commits of the last interval, never half of one.
// In the request path, inline checkpoints (fsync of WAL and database) were commits of 5-60 ms.
import type { Statement } from 'better-sqlite3';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { INVARIANT_PREFIX, openDb, type Db } from './db.js';
import { StoreClosedError, SubnetInUseStoreError, SubnetOverlapStoreError, SubnetPoolsStoreError } from './store-errors.js';
import { addressValue, firstFreeFrom, type Pool } from './ipam.js';
import type { FixedIpRow, FloatingIpRow, HostRow, NetworkRow, PortRow, SubnetRow } from './rows.js';
import type { ControllerStore, StoreCounters, NewNetwork, NewPort, NewSubnet, PortChange, StoreReader, StoreTx } from './store.js';

const CHECKPOINT_MS = 250;

// CommonJS source of the checkpoint worker (an eval worker: no separate file to build or load)
const CHECKPOINTER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 1000');
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch (err) { parentPort.postMessage(String(err)); }
}, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {}
  db.close();
  parentPort.close();
});
`;

interface Group {
  settle: { resolve: () => void; reject: (err: unknown) => void }[];
}

/** Runs a statement, turning a trigger's invariant refusal (db.ts) into its typed error. */
function invariants<T>(what: string, run: () => T): T {
  try {
    return run();
  } catch (err) {
    const m = err instanceof Error ? err.message : '';
    if (!m.startsWith(INVARIANT_PREFIX)) throw err;
    const which = m.slice(INVARIANT_PREFIX.length);
    if (which === 'subnet-overlap') throw new SubnetOverlapStoreError(`${what} overlaps another subnet of its network (or of the public networks)`);
    if (which === 'subnet-in-use') throw new SubnetInUseStoreError(`${what} is used by fixed or floating addresses`);
    throw new SubnetPoolsStoreError(`${what}: its allocation pools are not inside it, reversed, overlapping or hold its gateway (or were to change)`);
  }
}

export class SqliteStore implements ControllerStore {
  readonly db: Db;
  private readonly statements = new Map<string, Statement<unknown[]>>();
  /** subnet -> lowest address that may be free (exact first-free without a scan of used ones) */
  private readonly hints = new Map<number, bigint>();
  private readonly pools = new Map<number, { raw: string; pools: Pool[] }>();
  /** network -> its subnets; this connection is the only writer, so it knows every change */
  private readonly subnetCache = new Map<number, SubnetRow[]>();
  private chain: Promise<void> = Promise.resolve();
  private group: Group | undefined;
  private closed = false;
  /** the running unit moved a hint (its rollback must forget the hints) */
  private unitAllocated = false;
  private unitsRun = 0;
  private statementsRun = 0;
  private readonly tx: StoreTx;
  private readonly checkpointer: Worker | undefined;
  private checkpointerExit: Promise<void> = Promise.resolve();
  private closing: Promise<void> | undefined;

  constructor(
    path: string,
    private readonly log: Logger,
  ) {
    this.db = openDb(path);
    this.tx = this.makeTx();
    if (path !== ':memory:') {
      this.db.pragma('wal_autocheckpoint = 0');
      this.checkpointer = new Worker(CHECKPOINTER, { eval: true, workerData: { driver: createRequire(import.meta.url).resolve('better-sqlite3'), path, intervalMs: CHECKPOINT_MS } });
      this.checkpointer.on('message', (m: string) => this.log.warn({ err: m }, 'WAL checkpoint failed (retried at the next interval)'));
      this.checkpointer.on('error', (err) => this.log.error({ err: String(err) }, 'WAL checkpoint worker failed: checkpoints continue at close only'));
      this.checkpointer.unref();
      this.checkpointerExit = new Promise((r) => this.checkpointer?.once('exit', () => r()));
    }
  }

  /** Prepared statements are cached: preparing per call dominated request cost. */
  private q(sql: string): Statement<unknown[]> {
    this.statementsRun += 1;
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  private count(sql: string, ...args: unknown[]): number {
    return (this.q(sql).get(...args) as { c: number }).c;
  }

  read<T>(fn: (r: StoreReader) => Promise<T>): Promise<T> {
    return this.enqueue(fn, false);
  }

  write<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.enqueue(fn, true);
  }

  /** Units run one at a time here, so none ever collides with another: retries stay 0. */
  counters(): StoreCounters {
    return { units: this.unitsRun, statements: this.statementsRun, retries: 0 };
  }

  /** Units run in arrival order: an empty read after them resolves after their commit. */
  async settled(): Promise<void> {
    await this.read(() => Promise.resolve());
  }

  private enqueue<T>(fn: (tx: StoreTx) => Promise<T>, write: boolean): Promise<T> {
    if (this.closed) return Promise.reject(new StoreClosedError());
    this.unitsRun += 1;
    return new Promise<T>((resolve, reject) => {
      this.chain = this.chain.then(async () => {
        // the first write unit of a group has the transaction to itself (its rollback is a
        // ROLLBACK); a later one gets a savepoint
        let scope: 'none' | 'transaction' | 'savepoint' = 'none';
        this.unitAllocated = false;
        try {
          if (write && !this.group) {
            this.openGroup();
            scope = 'transaction';
          } else if (write) {
            this.q('SAVEPOINT unit').run();
            scope = 'savepoint';
          }
          const result = await fn(this.tx);
          if (scope === 'savepoint') this.q('RELEASE unit').run();
          scope = 'none';
          // reads that ran inside an open group saw its writes: they too wait for its commit
          if (this.group) this.group.settle.push({ resolve: () => resolve(result), reject });
          else resolve(result);
        } catch (err) {
          if (scope !== 'none') this.rollbackUnit(scope);
          reject(err);
        }
      });
    });
  }

  private rollbackUnit(scope: 'transaction' | 'savepoint'): void {
    try {
      if (scope === 'savepoint') {
        this.q('ROLLBACK TO unit').run();
        this.q('RELEASE unit').run();
      } else {
        // no other unit joined: units run one at a time and join only once finished
        this.q('ROLLBACK').run();
        this.group = undefined;
      }
    } catch (e) {
      this.log.error({ err: String(e) }, 'rollback failed');
    }
    // a rolled-back allocation may have moved a hint past a free address: start over exactly
    if (this.unitAllocated) this.hints.clear();
    this.subnetCache.clear();
  }

  private openGroup(): void {
    if (this.group) return;
    this.q('BEGIN IMMEDIATE').run();
    this.group = { settle: [] };
    // commit at the end of this event-loop turn, between units (after the one running now)
    setImmediate(() => {
      this.chain = this.chain.then(() => this.commit());
    });
  }

  private commit(): void {
    const g = this.group;
    if (!g) return;
    this.group = undefined;
    try {
      this.q('COMMIT').run();
    } catch (err) {
      this.log.error({ err: String(err), units: g.settle.length }, 'commit failed: every unit of the group is rolled back');
      try {
        if (this.db.inTransaction) this.q('ROLLBACK').run();
      } catch {
        /* already rolled back by SQLite */
      }
      this.hints.clear();
      this.subnetCache.clear();
      for (const s of g.settle) s.reject(err);
      return;
    }
    for (const s of g.settle) s.resolve();
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    await this.chain;
    if (this.group) this.commit();
    this.checkpointer?.ref(); // unref'd while running; keep the process until it has closed
    this.checkpointer?.postMessage('close');
    await this.checkpointerExit;
    this.db.close(); // the last connection checkpoints the whole WAL
  }

  private poolsOf(s: SubnetRow): Pool[] {
    const hit = this.pools.get(s.id);
    if (hit && hit.raw === s.pools) return hit.pools;
    const pools = JSON.parse(s.pools) as Pool[];
    this.pools.set(s.id, { raw: s.pools, pools });
    return pools;
  }

  private release(subnetId: number, ip: string): void {
    const v = addressValue(ip);
    const h = this.hints.get(subnetId);
    if (h === undefined || v < h) this.hints.set(subnetId, v);
  }

  private makeTx(): StoreTx {
    const one = <T>(sql: string, ...args: unknown[]): T | undefined => this.q(sql).get(...args) as T | undefined;
    const all = <T>(sql: string, ...args: unknown[]): T[] => this.q(sql).all(...args) as T[];
    const ok = <T>(v: T): Promise<T> => Promise.resolve(v);
    const fixedIps = (portId: number): FixedIpRow[] => all<FixedIpRow>('SELECT * FROM fixed_ips WHERE port_id = ? ORDER BY rowid', portId);
    return {
      network: (id) => ok(one<NetworkRow>('SELECT * FROM networks WHERE id = ?', id)),
      networks: (project) => ok(project === undefined ? all<NetworkRow>('SELECT * FROM networks ORDER BY id') : all<NetworkRow>('SELECT * FROM networks WHERE public = 1 OR project = ? ORDER BY id', project)),
      publicNetworkByName: (name) => ok(one<NetworkRow>('SELECT * FROM networks WHERE public = 1 AND name = ?', name)),
      firstPublicNetwork: () => ok(one<NetworkRow>('SELECT * FROM networks WHERE public = 1 ORDER BY id')),
      countPrivateNetworks: (project) => ok(this.count('SELECT COUNT(*) c FROM networks WHERE public = 0 AND project = ?', project)),
      usedSegments: (type) => ok(all<{ segment: number }>('SELECT segment FROM networks WHERE type = ? AND segment IS NOT NULL', type).map((r) => r.segment)),
      usedMacPrefixes: () => ok(all<{ mac_prefix: string }>('SELECT mac_prefix FROM networks WHERE mac_prefix IS NOT NULL').map((r) => r.mac_prefix)),
      devicePorts: (deviceId, project) => ok(all<{ networkId: number; nicIndex: number | null }>('SELECT network_id networkId, nic_index nicIndex FROM ports INDEXED BY ports_project_device WHERE project IS ? AND device_id = ?', project, deviceId)),
      subnet: (id) => ok(one<SubnetRow>('SELECT * FROM subnets WHERE id = ?', id)),
      subnets: () => ok(all<SubnetRow>('SELECT * FROM subnets ORDER BY id')),
      subnetsOf: (networkId) => {
        let rows = this.subnetCache.get(networkId);
        if (!rows) {
          rows = all<SubnetRow>('SELECT * FROM subnets WHERE network_id = ? ORDER BY id', networkId);
          this.subnetCache.set(networkId, rows);
        }
        return ok(rows);
      },
      privateCidrs: () => ok(all<{ cidr: string }>('SELECT cidr FROM subnets WHERE project IS NOT NULL').map((r) => r.cidr)),
      privateCidrOwner: (cidr) => ok(one<{ network_id: number }>('SELECT network_id FROM subnets WHERE cidr = ? AND project IS NOT NULL', cidr)?.network_id),
      countSubnets: (project) => ok(this.count('SELECT COUNT(*) c FROM subnets WHERE project = ?', project)),
      countFixedIpsOfSubnet: (subnetId) => ok(this.count('SELECT COUNT(*) c FROM fixed_ips WHERE subnet_id = ?', subnetId)),
      countFloatingIpsOfSubnet: (subnetId) => ok(this.count('SELECT COUNT(*) c FROM floating_ips WHERE subnet_id = ?', subnetId)),
      port: (id) => ok(one<PortRow>('SELECT * FROM ports WHERE id = ?', id)),
      ports: (project) => ok(project === undefined ? all<PortRow>('SELECT * FROM ports ORDER BY id') : all<PortRow>('SELECT * FROM ports WHERE project = ? ORDER BY id', project)),
      countPortsOfNetwork: (networkId) => ok(this.count('SELECT COUNT(*) c FROM ports WHERE network_id = ?', networkId)),
      countPorts: (project) => ok(this.count('SELECT COUNT(*) c FROM ports WHERE project = ?', project)),
      macInUse: (mac) => ok(!!one('SELECT 1 FROM ports WHERE mac = ?', mac)),
      // a port is on its host and, during a live migration, standing by on migrating_to
      hostsOfNetwork: (networkId) =>
        ok(all<{ host: string }>('SELECT host FROM ports WHERE network_id = ? AND host IS NOT NULL UNION SELECT migrating_to FROM ports WHERE network_id = ? AND migrating_to IS NOT NULL', networkId, networkId).map((r) => r.host)),
      networksOfHost: (host) => ok(all<{ network_id: number }>('SELECT DISTINCT network_id FROM ports WHERE host = ? OR migrating_to = ?', host, host).map((r) => r.network_id)),
      hostHasPortOn: (host, networkId) => ok(!!one('SELECT 1 FROM ports WHERE network_id = ? AND (host = ? OR migrating_to = ?) LIMIT 1', networkId, host, host)),
      hostPorts: (host) => ok(all<PortRow>('SELECT * FROM ports WHERE host = ? OR migrating_to = ? ORDER BY id', host, host)),
      switchesWaiting: (host) =>
        ok(!!(host === undefined ? one('SELECT 1 FROM ports WHERE activating_from IS NOT NULL LIMIT 1') : one('SELECT 1 FROM ports WHERE activating_from = ? LIMIT 1', host))),
      fixedIpsOfHost: (host) => {
        const out = new Map<number, FixedIpRow[]>();
        for (const f of all<FixedIpRow>('SELECT f.* FROM fixed_ips f JOIN ports p ON p.id = f.port_id WHERE p.host = ? OR p.migrating_to = ? ORDER BY f.rowid', host, host)) {
          const l = out.get(f.port_id);
          if (l) l.push(f);
          else out.set(f.port_id, [f]);
        }
        return ok(out);
      },
      vteps: (networkId, exceptHost) =>
        ok(all<{ u: string }>('SELECT DISTINCT h.underlay u FROM ports p JOIN hosts h ON h.id = p.host OR h.id = p.migrating_to WHERE p.network_id = ? AND h.id != ? AND h.underlay IS NOT NULL', networkId, exceptHost).map((r) => r.u)),
      portsByStatus: () => ok(Object.fromEntries(all<{ status: string; n: number }>('SELECT status, COUNT(*) AS n FROM ports GROUP BY status').map((r) => [r.status, r.n]))),
      deviceProjects: (deviceId) => ok(all<{ project: string | null }>('SELECT DISTINCT project FROM ports INDEXED BY ports_device WHERE device_id = ? AND host IS NOT NULL', deviceId).map((r) => r.project)),
      deviceHost: (deviceId, project) =>
        ok(
          (project === undefined
            ? one<{ host: string }>('SELECT host FROM ports WHERE device_id = ? AND host IS NOT NULL LIMIT 1', deviceId)
            : one<{ host: string }>('SELECT host FROM ports WHERE device_id = ? AND host IS NOT NULL AND project = ? LIMIT 1', deviceId, project)
          )?.host ?? null,
        ),
      fixedIps: (portId) => ok(fixedIps(portId)),
      fixedIpsOf: (portIds) => ok(new Map(portIds.map((id) => [id, fixedIps(id)]))),
      fixedIpInUse: (subnetId, ip) => ok(!!one('SELECT 1 FROM fixed_ips WHERE subnet_id = ? AND ip = ?', subnetId, ip)),
      floatingIp: (id) => ok(one<FloatingIpRow>('SELECT * FROM floating_ips WHERE id = ?', id)),
      floatingIps: (project) => ok(project === undefined ? all<FloatingIpRow>('SELECT * FROM floating_ips ORDER BY id') : all<FloatingIpRow>('SELECT * FROM floating_ips WHERE project = ? ORDER BY id', project)),
      floatingIpAt: (subnetId, ip) => ok(one<FloatingIpRow>('SELECT * FROM floating_ips WHERE subnet_id = ? AND ip = ?', subnetId, ip)),
      countFloatingIps: (project) => ok(this.count('SELECT COUNT(*) c FROM floating_ips WHERE project = ?', project)),
      host: (id) => ok(one<HostRow>('SELECT * FROM hosts WHERE id = ?', id)),
      hosts: () => ok(all<HostRow>('SELECT * FROM hosts ORDER BY id')),

      insertNetwork: (n: NewNetwork) => {
        const { lastInsertRowid } = this.q('INSERT INTO networks (name, project, type, public, segment, mac_prefix, uplink, routing_table, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').run(n.name, n.project, n.type, n.public ? 1 : 0, n.segment, n.macPrefix ?? null, n.uplink, n.routingTable, n.at, n.at);
        return ok(Number(lastInsertRowid));
      },
      deleteNetwork: (id) => {
        this.subnetCache.delete(id);
        this.q('DELETE FROM subnets WHERE network_id = ?').run(id);
        this.q('DELETE FROM networks WHERE id = ?').run(id);
        return ok(undefined);
      },
      insertSubnet: (s: NewSubnet) => {
        this.subnetCache.delete(s.networkId);
        const { lastInsertRowid } = invariants(`subnet ${s.cidr} of network ${s.networkId}`, () =>
          this.q('INSERT INTO subnets (network_id, project, name, cidr, ip_version, gateway, pools, dns, enable_dhcp, host_routes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').run(s.networkId, s.project, s.name, s.cidr, s.ipVersion, s.gateway, s.pools, s.dns, s.enableDhcp ? 1 : 0, s.hostRoutes),
        );
        return ok(Number(lastInsertRowid));
      },
      deleteSubnet: (id) => {
        this.subnetCache.clear();
        invariants(`subnet ${id}`, () => this.q('DELETE FROM subnets WHERE id = ?').run(id));
        this.hints.delete(id);
        this.pools.delete(id);
        return ok(undefined);
      },
      insertPort: (p: NewPort) => {
        const devices = p.deviceId && p.newDevice ? (this.q('UPDATE networks SET devices = devices + 1 WHERE id = ? RETURNING devices').get(p.networkId) as { devices: number }).devices : null;
        const { lastInsertRowid } = this.q(
          "INSERT INTO ports (network_id, project, name, device_id, device_owner, nic_index, mac, host, status, revision, profile, firewall_profile, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'BUILD', 1, ?, ?, ?, ?)",
        ).run(p.networkId, p.project, p.name, p.deviceId, p.deviceOwner, p.nicIndex, p.mac, p.host, p.profile, p.firewallProfile, p.at, p.at);
        return ok({ id: Number(lastInsertRowid), devices });
      },
      updatePort: (id, c: PortChange) => {
        this.q("UPDATE ports SET host = ?, firewall_profile = ?, name = COALESCE(?, name), profile = COALESCE(?, profile), migrating_to = ?, activating_from = ?, activating_after = ?, standby_status = CASE WHEN ? THEN NULL ELSE standby_status END, standby_reason = CASE WHEN ? THEN NULL ELSE standby_reason END, revision = revision + 1, status = CASE WHEN ? THEN 'BUILD' ELSE status END, updated = ? WHERE id = ?").run(c.host, c.firewallProfile, c.name ?? null, c.profile ?? null, c.migratingTo, c.activatingFrom, c.activatingAfter, c.resetStandby ? 1 : 0, c.resetStandby ? 1 : 0, c.rebuild ? 1 : 0, c.at, id);
        return ok(undefined);
      },
      deletePort: (id) => {
        const port = one<PortRow>('SELECT * FROM ports WHERE id = ?', id);
        if (!port) return ok(undefined);
        const freed = fixedIps(id);
        const released = all<FloatingIpRow>('SELECT * FROM floating_ips WHERE port_id = ? AND with_port = 1', id);
        this.q('DELETE FROM floating_ips WHERE port_id = ? AND with_port = 1').run(id);
        this.q('UPDATE floating_ips SET port_id = NULL WHERE port_id = ?').run(id);
        this.q('DELETE FROM ports WHERE id = ?').run(id); // fixed_ips cascade
        for (const f of released) this.release(f.subnet_id, f.ip);
        if (port.device_id && !one('SELECT 1 FROM ports INDEXED BY ports_project_device WHERE project IS ? AND device_id = ? AND network_id = ? LIMIT 1', port.project, port.device_id, port.network_id)) {
          this.q('UPDATE networks SET devices = devices - 1 WHERE id = ?').run(port.network_id);
        }
        // lowering a hint is always safe, even if this unit is rolled back
        for (const f of freed) this.release(f.subnet_id, f.ip);
        return ok(undefined);
      },
      firstFreeAddress: (s) => {
        const used = this.q('SELECT 1 FROM fixed_ips WHERE subnet_id = ? AND ip = ? UNION ALL SELECT 1 FROM floating_ips WHERE subnet_id = ? AND ip = ? LIMIT 1');
        const got = firstFreeFrom(this.poolsOf(s), (a) => used.get(s.id, a, s.id, a) !== undefined, s.gateway ?? undefined, this.hints.get(s.id));
        if (got) {
          this.hints.set(s.id, got.next);
          this.unitAllocated = true;
        }
        return ok(got?.address);
      },
      insertFixedIp: (portId, subnetId, ip) => {
        this.q('INSERT INTO fixed_ips (port_id, subnet_id, ip) VALUES (?, ?, ?)').run(portId, subnetId, ip);
        return ok(undefined);
      },
      takeFirstFree: async (s, portId) => {
        const ip = await this.tx.firstFreeAddress(s);
        if (ip !== undefined) await this.tx.insertFixedIp(portId, s.id, ip);
        return ip;
      },
      insertFloatingIp: (f) => {
        const { lastInsertRowid } = this.q('INSERT INTO floating_ips (project, network_id, subnet_id, ip, port_id, with_port, created) VALUES (?, ?, ?, ?, ?, ?, ?)').run(f.project, f.networkId, f.subnetId, f.ip, f.withPort ?? null, f.withPort === undefined ? 0 : 1, f.at);
        return ok(Number(lastInsertRowid));
      },
      setFloatingIpPort: (id, portId) => {
        // attached or detached by name, it is the project's to keep: it no longer goes with a port
        this.q('UPDATE floating_ips SET port_id = ?, with_port = 0 WHERE id = ?').run(portId, id);
        return ok(undefined);
      },
      deleteFloatingIp: (id) => {
        const f = one<FloatingIpRow>('SELECT * FROM floating_ips WHERE id = ?', id);
        this.q('DELETE FROM floating_ips WHERE id = ?').run(id);
        if (f) this.release(f.subnet_id, f.ip);
        return ok(undefined);
      },
      bumpGenerations: (hosts) => {
        const st = this.q('INSERT INTO hosts (id, generation) VALUES (?, 1) ON CONFLICT(id) DO UPDATE SET generation = generation + 1');
        for (const h of hosts) st.run(h);
        return ok(undefined);
      },
      upsertHost: (h) => {
        this.q('INSERT INTO hosts (id, underlay, version, last_seen) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET underlay = excluded.underlay, version = excluded.version, last_seen = excluded.last_seen').run(h.id, h.underlay, h.version, h.lastSeen);
        return ok(undefined);
      },
      setPortStatus: (r) => {
        // a port still standing by for its switch is not its new host's yet (see activatePorts)
        this.q('UPDATE ports SET status = ?, status_reason = ?, updated = ? WHERE id = ? AND host = ? AND revision = ? AND activating_from IS NULL').run(r.status, r.reason, r.at, r.portId, r.host, r.revision);
        // the destination of a live migration reports the port it stands by with
        this.q('UPDATE ports SET standby_status = ?, standby_reason = ? WHERE id = ? AND migrating_to = ? AND revision = ?').run(r.status, r.reason, r.portId, r.host, r.revision);
        return ok(undefined);
      },
      // one controller per SQLite file: its listeners are told in-process (service-core.ts)
      announce: () => ok(undefined),
      activatePorts: (which, at) => {
        const rows =
          'waitingSince' in which
            ? all<PortRow>('SELECT * FROM ports WHERE activating_from IS NOT NULL AND updated < ?', which.waitingSince)
            : all<PortRow>('SELECT * FROM ports WHERE activating_from = ? AND activating_after <= ?', which.appliedBy, which.generation);
        const st = this.q("UPDATE ports SET activating_from = NULL, activating_after = NULL, revision = revision + 1, status = 'BUILD', status_reason = NULL, updated = ? WHERE id = ?");
        for (const p of rows) st.run(at, p.id);
        return ok(rows.map((p) => ({ ...p, activating_from: null, activating_after: null, revision: p.revision + 1, status: 'BUILD', status_reason: null, updated: at })));
      },
    };
  }
}
