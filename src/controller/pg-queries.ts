// The store's typed operations in PostgreSQL's SQL, over one transaction's query function
// (pg-store.ts runs the units). Write units run at READ COMMITTED: every check that an insert
// relies on (a count below a limit, an address or segment free) first takes a transaction-scoped
// advisory lock on what it checks, so two controllers' units over the same subnet, project quota,
// device or segment type run one after the other while units elsewhere run side by side; the
// unique and exclusion constraints catch anything that gets past, and the unit is run again.
// Read units run at REPEATABLE READ (one snapshot) and take no locks.
import type { FixedIpRow, FloatingIpRow, HostRow, NetworkRow, PortRow, SubnetRow } from './rows.js';
import type { HostChange } from '../state/controller-hooks.js';
import type { InsertedPort, NewNetwork, NewPort, NewSubnet, PortChange, StoreTx } from './store.js';

/** The channel on which committed units tell the publishing controller what changed. */
export const HOST_CHANGES_CHANNEL = 'plumb_host_changes';

/** NOTIFY payloads are at most 8000 bytes: the changes, in as many payloads as they need. */
const MAX_PAYLOAD = 7000;

export function notifyPayloads(changes: readonly HostChange[]): string[] {
  const out: string[] = [];
  let batch: HostChange[] = [];
  let size = 2;
  for (const c of changes) {
    // a change too big alone is the whole host
    let text = JSON.stringify(c);
    const change: HostChange = text.length > MAX_PAYLOAD ? { host: c.host, all: true } : c;
    if (change !== c) text = JSON.stringify(change);
    if (batch.length > 0 && size + text.length + 1 > MAX_PAYLOAD) {
      out.push(JSON.stringify(batch));
      batch = [];
      size = 2;
    }
    batch.push(change);
    size += text.length + 1;
  }
  if (batch.length > 0) out.push(JSON.stringify(batch));
  return out;
}

export type Query = <R>(sql: string, args?: unknown[]) => Promise<R[]>;

const FIXED = 'f.port_id, f.subnet_id, f.ip';

/** The StoreTx of one unit; `write` false: a read unit (the mutations are never called on it). */
export function pgTx(q: Query, write: boolean): StoreTx {
  const one = async <R>(sql: string, args: unknown[] = []): Promise<R | undefined> => (await q<R>(sql, args))[0];
  const count = async (sql: string, args: unknown[]): Promise<number> => (await q<{ c: number }>(sql, args))[0]?.c ?? 0;
  // what a check reads stays as it saw it until the unit ends (taken only in write units)
  const lock = async (what: string): Promise<void> => {
    if (write) await q('SELECT pg_advisory_xact_lock(hashtext($1))', [what]);
  };
  // a freed address below a subnet's hint is the new lowest that may be free
  const lowerHint = async (subnetId: number, ip: string): Promise<void> => {
    await lock(`subnet:${subnetId}`);
    await q('UPDATE subnets SET alloc_hint = $2 WHERE id = $1 AND alloc_hint IS NOT NULL AND alloc_hint::inet > $2::inet', [subnetId, ip]);
  };
  const subnetsSeen = new Map<number, Promise<SubnetRow[]>>();
  const fixedIps = (portId: number): Promise<FixedIpRow[]> => q<FixedIpRow>(`SELECT ${FIXED} FROM fixed_ips f WHERE port_id = $1 ORDER BY seq`, [portId]);
  return {
    network: (id) => one<NetworkRow>('SELECT * FROM networks WHERE id = $1', [id]),
    networks: (project) => (project === undefined ? q<NetworkRow>('SELECT * FROM networks ORDER BY id') : q<NetworkRow>('SELECT * FROM networks WHERE public = 1 OR project = $1 ORDER BY id', [project])),
    // controllers starting together each make sure the configured public networks exist
    publicNetworkByName: async (name) => {
      await lock('public-networks');
      return one<NetworkRow>('SELECT * FROM networks WHERE public = 1 AND name = $1 ORDER BY id', [name]);
    },
    firstPublicNetwork: () => one<NetworkRow>('SELECT * FROM networks WHERE public = 1 ORDER BY id'),
    countPrivateNetworks: async (project) => {
      await lock(`networks-of:${project}`);
      return count('SELECT COUNT(*)::int c FROM networks WHERE public = 0 AND project = $1', [project]);
    },
    usedSegments: async (type) => {
      await lock(`segments:${type}`);
      return (await q<{ segment: number }>('SELECT segment FROM networks WHERE type = $1 AND segment IS NOT NULL', [type])).map((r) => r.segment);
    },
    usedMacPrefixes: async () => {
      await lock('mac-prefixes');
      return (await q<{ mac_prefix: string }>('SELECT mac_prefix FROM networks WHERE mac_prefix IS NOT NULL')).map((r) => r.mac_prefix);
    },
    devicePorts: (deviceId, project) =>
      write
        ? q<{ networkId: number; nicIndex: number | null }>('SELECT * FROM plumb_locked_device_ports($1, $2, $3)', [project, deviceId, `device:${deviceId}`])
        : q<{ networkId: number; nicIndex: number | null }>('SELECT network_id "networkId", nic_index "nicIndex" FROM ports WHERE project IS NOT DISTINCT FROM $1 AND device_id = $2', [project, deviceId]),
    subnet: (id) => one<SubnetRow>('SELECT * FROM subnets WHERE id = $1', [id]),
    subnets: () => q<SubnetRow>('SELECT * FROM subnets ORDER BY id'),
    // asked more than once per unit (a port's network, then its allocation): read once
    subnetsOf: (networkId) => {
      let rows = subnetsSeen.get(networkId);
      if (!rows) {
        rows = q<SubnetRow>('SELECT * FROM subnets WHERE network_id = $1 ORDER BY id', [networkId]);
        subnetsSeen.set(networkId, rows);
      }
      return rows;
    },
    privateCidrs: async () => {
      await lock('private-cidrs');
      return (await q<{ cidr: string }>('SELECT cidr FROM subnets WHERE project IS NOT NULL')).map((r) => r.cidr);
    },
    privateCidrOwner: async (cidr) => {
      await lock('private-cidrs');
      return (await one<{ network_id: number }>('SELECT network_id FROM subnets WHERE cidr = $1 AND project IS NOT NULL', [cidr]))?.network_id;
    },
    countSubnets: (project) => count('SELECT COUNT(*)::int c FROM subnets WHERE project = $1', [project]),
    countFixedIpsOfSubnet: async (subnetId) => {
      await lock(`subnet:${subnetId}`);
      return count('SELECT COUNT(*)::int c FROM fixed_ips WHERE subnet_id = $1', [subnetId]);
    },
    countFloatingIpsOfSubnet: async (subnetId) => {
      await lock(`subnet:${subnetId}`);
      return count('SELECT COUNT(*)::int c FROM floating_ips WHERE subnet_id = $1', [subnetId]);
    },
    port: (id) => one<PortRow>('SELECT * FROM ports WHERE id = $1', [id]),
    ports: (project) => (project === undefined ? q<PortRow>('SELECT * FROM ports ORDER BY id') : q<PortRow>('SELECT * FROM ports WHERE project = $1 ORDER BY id', [project])),
    countPortsOfNetwork: (networkId) => count('SELECT COUNT(*)::int c FROM ports WHERE network_id = $1', [networkId]),
    countPorts: (project) => count('SELECT COUNT(*)::int c FROM ports WHERE project = $1', [project]),
    macInUse: async (mac) => !!(await one('SELECT 1 FROM ports WHERE mac = $1', [mac])),
    // a port is on its host and, during a live migration, standing by on migrating_to
    hostsOfNetwork: async (networkId) =>
      (await q<{ host: string }>('SELECT host FROM ports WHERE network_id = $1 AND host IS NOT NULL UNION SELECT migrating_to FROM ports WHERE network_id = $1 AND migrating_to IS NOT NULL', [networkId])).map((r) => r.host),
    networksOfHost: async (host) => (await q<{ network_id: number }>('SELECT DISTINCT network_id FROM ports WHERE host = $1 OR migrating_to = $1', [host])).map((r) => r.network_id),
    hostHasPortOn: async (host, networkId) => !!(await one('SELECT 1 FROM ports WHERE network_id = $1 AND (host = $2 OR migrating_to = $2) LIMIT 1', [networkId, host])),
    hostPorts: (host) => q<PortRow>('SELECT * FROM ports WHERE host = $1 OR migrating_to = $1 ORDER BY id', [host]),
    switchesWaiting: async (host) =>
      !!(host === undefined ? await one('SELECT 1 FROM ports WHERE activating_from IS NOT NULL LIMIT 1') : await one('SELECT 1 FROM ports WHERE activating_from = $1 LIMIT 1', [host])),
    fixedIpsOfHost: async (host) => {
      const out = new Map<number, FixedIpRow[]>();
      for (const f of await q<FixedIpRow>(`SELECT ${FIXED} FROM fixed_ips f JOIN ports p ON p.id = f.port_id WHERE p.host = $1 OR p.migrating_to = $1 ORDER BY f.seq`, [host])) {
        const l = out.get(f.port_id);
        if (l) l.push(f);
        else out.set(f.port_id, [f]);
      }
      return out;
    },
    vteps: async (networkId, exceptHost) =>
      (await q<{ u: string }>('SELECT DISTINCT h.underlay u FROM ports p JOIN hosts h ON h.id = p.host OR h.id = p.migrating_to WHERE p.network_id = $1 AND h.id != $2 AND h.underlay IS NOT NULL', [networkId, exceptHost])).map((r) => r.u),
    portsByStatus: async () => Object.fromEntries((await q<{ status: string; n: number }>('SELECT status, COUNT(*)::int n FROM ports GROUP BY status')).map((r) => [r.status, r.n])),
    deviceProjects: async (deviceId) => {
      await lock(`device:${deviceId}`);
      return (await q<{ project: string | null }>('SELECT DISTINCT project FROM ports WHERE device_id = $1 AND host IS NOT NULL', [deviceId])).map((r) => r.project);
    },
    deviceHost: async (deviceId, project) =>
      (project === undefined
        ? await one<{ host: string }>('SELECT host FROM ports WHERE device_id = $1 AND host IS NOT NULL ORDER BY id LIMIT 1', [deviceId])
        : await one<{ host: string }>('SELECT host FROM ports WHERE device_id = $1 AND host IS NOT NULL AND project = $2 ORDER BY id LIMIT 1', [deviceId, project])
      )?.host ?? null,
    fixedIps,
    fixedIpsOf: async (portIds) => {
      const out = new Map<number, FixedIpRow[]>(portIds.map((id) => [id, []]));
      if (portIds.length === 0) return out;
      for (const f of await q<FixedIpRow>(`SELECT ${FIXED} FROM fixed_ips f WHERE port_id = ANY($1::int[]) ORDER BY seq`, [portIds])) out.get(f.port_id)?.push(f);
      return out;
    },
    fixedIpInUse: async (subnetId, ip) => {
      await lock(`subnet:${subnetId}`);
      return !!(await one('SELECT 1 FROM fixed_ips WHERE subnet_id = $1 AND ip = $2', [subnetId, ip]));
    },
    floatingIp: (id) => one<FloatingIpRow>('SELECT * FROM floating_ips WHERE id = $1', [id]),
    floatingIps: (project) => (project === undefined ? q<FloatingIpRow>('SELECT * FROM floating_ips ORDER BY id') : q<FloatingIpRow>('SELECT * FROM floating_ips WHERE project = $1 ORDER BY id', [project])),
    floatingIpAt: async (subnetId, ip) => {
      await lock(`subnet:${subnetId}`);
      return one<FloatingIpRow>('SELECT * FROM floating_ips WHERE subnet_id = $1 AND ip = $2', [subnetId, ip]);
    },
    countFloatingIps: async (project) =>
      write
        ? ((await one<{ c: number }>('SELECT plumb_locked_count_floating_ips($1, $2) c', [project, `floating-ips-of:${project}`]))?.c ?? 0)
        : count('SELECT COUNT(*)::int c FROM floating_ips WHERE project = $1', [project]),
    host: (id) => one<HostRow>('SELECT * FROM hosts WHERE id = $1', [id]),
    hosts: () => q<HostRow>('SELECT * FROM hosts ORDER BY id'),

    insertNetwork: async (n: NewNetwork) =>
      (await one<{ id: number }>('INSERT INTO networks (name, project, type, public, segment, mac_prefix, uplink, routing_table, created, updated) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id', [
        n.name,
        n.project,
        n.type,
        n.public ? 1 : 0,
        n.segment,
        n.macPrefix ?? null,
        n.uplink,
        n.routingTable,
        n.at,
      ]))!.id,
    deleteNetwork: async (id) => {
      subnetsSeen.clear();
      await q('DELETE FROM subnets WHERE network_id = $1', [id]);
      await q('DELETE FROM networks WHERE id = $1', [id]);
    },
    insertSubnet: async (s: NewSubnet) => {
      subnetsSeen.clear();
      return (await one<{ id: number }>('INSERT INTO subnets (network_id, project, name, cidr, ip_version, gateway, pools, dns, enable_dhcp, host_routes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id', [
        s.networkId,
        s.project,
        s.name,
        s.cidr,
        s.ipVersion,
        s.gateway,
        s.pools,
        s.dns,
        s.enableDhcp ? 1 : 0,
        s.hostRoutes,
      ]))!.id;
    },
    deleteSubnet: async (id) => {
      subnetsSeen.clear();
      await q('DELETE FROM subnets WHERE id = $1', [id]);
    },
    // the network's device count grows in the same statement when the device is new there, and
    // comes back for the quota check: the row lock this UPDATE takes (held to commit) makes
    // concurrent units count one after the other, and it is the unit's first lock on the
    // network, taken as late as the unit allows (no advisory lock from an earlier check)
    insertPort: async (p: NewPort) =>
      (await one<InsertedPort>(
        "WITH d AS (UPDATE networks SET devices = devices + 1 WHERE id = $1 AND $12 RETURNING devices) INSERT INTO ports (network_id, project, name, device_id, device_owner, nic_index, mac, host, status, revision, profile, firewall_profile, created, updated) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'BUILD', 1, $9, $10, $11, $11) RETURNING id, (SELECT devices FROM d) devices",
        [p.networkId, p.project, p.name, p.deviceId, p.deviceOwner, p.nicIndex, p.mac, p.host, p.profile, p.firewallProfile, p.at, !!(p.deviceId && p.newDevice)],
      ))!,
    updatePort: async (id, c: PortChange) => {
      await q(
        "UPDATE ports SET host = $1, firewall_profile = $2, name = COALESCE($3, name), profile = COALESCE($4, profile), migrating_to = $5, activating_from = $6, activating_after = $7, standby_status = CASE WHEN $8 THEN NULL ELSE standby_status END, standby_reason = CASE WHEN $8 THEN NULL ELSE standby_reason END, revision = revision + 1, status = CASE WHEN $9 THEN 'BUILD' ELSE status END, updated = $10 WHERE id = $11",
        [c.host, c.firewallProfile, c.name ?? null, c.profile ?? null, c.migratingTo, c.activatingFrom, c.activatingAfter, c.resetStandby, c.rebuild, c.at, id],
      );
    },
    deletePort: async (id) => {
      const port = await one<PortRow>('SELECT * FROM ports WHERE id = $1 FOR UPDATE', [id]);
      if (!port) return;
      const freed = [...(await q<{ subnet_id: number; ip: string }>('SELECT subnet_id, ip FROM fixed_ips WHERE port_id = $1', [id])), ...(await q<{ subnet_id: number; ip: string }>('SELECT subnet_id, ip FROM floating_ips WHERE port_id = $1 AND with_port = 1', [id]))];
      await q('DELETE FROM floating_ips WHERE port_id = $1 AND with_port = 1', [id]);
      await q('UPDATE floating_ips SET port_id = NULL WHERE port_id = $1', [id]);
      await q('DELETE FROM ports WHERE id = $1', [id]); // fixed_ips cascade
      // locks in the order port creation takes them (the device, the network's row with its
      // device count, then subnets): no deadlock; the device's lock orders this check against a
      // concurrent creation of a port of the same device (which decides whether it is new here)
      if (port.device_id) {
        await lock(`device:${port.device_id}`);
        if (!(await one('SELECT 1 FROM ports WHERE project IS NOT DISTINCT FROM $1 AND device_id = $2 AND network_id = $3 LIMIT 1', [port.project, port.device_id, port.network_id]))) {
          await q('UPDATE networks SET devices = devices - 1 WHERE id = $1', [port.network_id]);
        }
      }
      for (const f of freed.sort((a, b) => a.subnet_id - b.subnet_id)) await lowerHint(f.subnet_id, f.ip);
    },
    // the lowest free address of the pools, searched from the subnet's hint (pg-schema.ts
    // plumb_take_first_free), which it moves past the address found
    firstFreeAddress: async (s) => (await one<{ a: string | null }>('SELECT plumb_take_first_free($1, $2) a', [s.id, `subnet:${s.id}`]))?.a ?? undefined,
    insertFixedIp: async (portId, subnetId, ip) => {
      await q('INSERT INTO fixed_ips (port_id, subnet_id, ip) VALUES ($1, $2, $3)', [portId, subnetId, ip]);
    },
    // the search, its lock and the insert in one round trip: the subnet's lock is then held for
    // this statement and the COMMIT only
    takeFirstFree: async (s, portId) =>
      (await one<{ ip: string }>('WITH a AS (SELECT plumb_take_first_free($2, $3) ip) INSERT INTO fixed_ips (port_id, subnet_id, ip) SELECT $1, $2, ip FROM a WHERE ip IS NOT NULL RETURNING ip', [portId, s.id, `subnet:${s.id}`]))?.ip,
    insertFloatingIp: async (f) =>
      (await one<{ id: number }>('INSERT INTO floating_ips (project, network_id, subnet_id, ip, port_id, with_port, created) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id', [
        f.project,
        f.networkId,
        f.subnetId,
        f.ip,
        f.withPort ?? null,
        f.withPort === undefined ? 0 : 1,
        f.at,
      ]))!.id,
    setFloatingIpPort: async (id, portId) => {
      // attached or detached by name, it is the project's to keep: it no longer goes with a port
      await q('UPDATE floating_ips SET port_id = $1, with_port = 0 WHERE id = $2', [portId, id]);
    },
    deleteFloatingIp: async (id) => {
      const f = await one<{ subnet_id: number; ip: string }>('DELETE FROM floating_ips WHERE id = $1 RETURNING subnet_id, ip', [id]);
      if (f) await lowerHint(f.subnet_id, f.ip);
    },
    bumpGenerations: async (hosts) => {
      // one statement in a fixed order: two units bumping the same hosts never deadlock
      if (hosts.length === 0) return;
      await q('INSERT INTO hosts (id, generation) SELECT h, 1 FROM unnest($1::text[]) h ORDER BY h ON CONFLICT (id) DO UPDATE SET generation = hosts.generation + 1', [[...new Set(hosts)]]);
    },
    upsertHost: async (h) => {
      await q('INSERT INTO hosts (id, underlay, version, last_seen) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET underlay = excluded.underlay, version = excluded.version, last_seen = excluded.last_seen', [h.id, h.underlay, h.version, h.lastSeen]);
    },
    setPortStatus: async (r) => {
      // a port still standing by for its switch is not its new host's yet (see activatePorts)
      await q('UPDATE ports SET status = $1, status_reason = $2, updated = $3 WHERE id = $4 AND host = $5 AND revision = $6 AND activating_from IS NULL', [r.status, r.reason, r.at, r.portId, r.host, r.revision]);
      // the destination of a live migration reports the port it stands by with
      await q('UPDATE ports SET standby_status = $1, standby_reason = $2 WHERE id = $3 AND migrating_to = $4 AND revision = $5', [r.status, r.reason, r.portId, r.host, r.revision]);
    },
    announce: async (changes) => {
      for (const payload of notifyPayloads(changes)) await q('SELECT pg_notify($1, $2)', [HOST_CHANGES_CHANNEL, payload]);
    },
    activatePorts: async (which, at) => {
      const set = "activating_from = NULL, activating_after = NULL, revision = revision + 1, status = 'BUILD', status_reason = NULL, updated = $1";
      return 'waitingSince' in which
        ? q<PortRow>(`UPDATE ports SET ${set} WHERE activating_from IS NOT NULL AND updated < $2 RETURNING *`, [at, which.waitingSince])
        : q<PortRow>(`UPDATE ports SET ${set} WHERE activating_from = $2 AND activating_after <= $3 RETURNING *`, [at, which.appliedBy, which.generation]);
    },
  };
}
