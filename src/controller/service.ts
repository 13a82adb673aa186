// The controller's resources and allocations. Every mutation runs in one SQLite transaction
// (synchronous: no other request interleaves), bumps the generation of every host whose
// desired state it changes, and notifies listeners after the commit.
import { randomBytes } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import type { Principal } from './auth.js';
import type { ControllerConfig } from './config.js';
import type { Db } from './db.js';
import type { Statement } from 'better-sqlite3';
import { BadRequestError, ConflictError, ForbiddenError, IpAddressInUseError, NetworkInUseError, NotFoundError, OverQuotaError, PoolExhaustedError } from './errors.js';
import { addressValue, defaultPools, firstFreeFrom, nthSubnet24, type Pool } from './ipam.js';
import type { FixedIpRow, FloatingIpRow, HostRow, NetworkRow, PortRow, SubnetRow } from './rows.js';
import { floatingIpView, networkView, portView, subnetView } from './rows.js';
import { cidrContains, normalizeAddress, parseCidr, networkAddress } from '../util/ip.js';

type Body = Record<string, unknown>;
const now = (): string => new Date().toISOString();

function str(body: Body, field: string, required: true): string;
function str(body: Body, field: string, required?: false): string | undefined;
function str(body: Body, field: string, required = false): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) {
    if (required) throw new BadRequestError(field, 'is required');
    return undefined;
  }
  if (typeof v !== 'string' && typeof v !== 'number') throw new BadRequestError(field, `'${JSON.stringify(v)}' is not a string`);
  return String(v);
}

export class ControllerService {
  private readonly listeners = new Set<(hosts: string[]) => void>();
  /** subnet -> lowest address that may be free (exact first-free allocation without full scans). */
  private readonly hints = new Map<number, bigint>();

  private readonly statements = new Map<string, Statement<unknown[]>>();

  /** Prepared statements are cached: preparing per call dominated request cost. */
  private q(sql: string): Statement<unknown[]> {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  constructor(
    readonly db: Db,
    readonly cfg: ControllerConfig,
  ) {
    this.ensurePublicNetworks();
  }

  // ---------- change notification
  onHostsChanged(listener: (hosts: string[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Run `fn` in a transaction; bump generations of the hosts it returns; notify after commit. */
  private mutate<T>(fn: () => { result: T; hosts: Iterable<string | null | undefined> }): T {
    let hosts: string[] = [];
    const txn = this.db.transaction(() => {
      const r = fn();
      hosts = [...new Set([...r.hosts].filter((h): h is string => !!h))];
      for (const h of hosts) {
        this.q('INSERT INTO hosts (id, generation) VALUES (?, 1) ON CONFLICT(id) DO UPDATE SET generation = generation + 1').run(h);
      }
      return r.result;
    });
    let result: T;
    try {
      result = txn();
    } catch (err) {
      // a rolled-back allocation may have moved a hint past a free address: start over exactly
      this.hints.clear();
      throw err;
    }
    if (hosts.length) for (const l of this.listeners) l(hosts);
    return result;
  }

  /** Hosts with ports on a network: all of them see a change of its membership (VXLAN remotes). */
  private hostsOfNetwork(networkId: number): string[] {
    return (this.q('SELECT DISTINCT host FROM ports WHERE network_id = ? AND host IS NOT NULL').all(networkId) as { host: string }[]).map((r) => r.host);
  }

  // ---------- visibility
  private network(p: Principal, id: string): NetworkRow {
    const n = this.q('SELECT * FROM networks WHERE id = ?').get(Number(id)) as NetworkRow | undefined;
    if (!n || !/^\d+$/.test(id) || (!p.admin && n.public === 0 && n.project !== p.project)) throw new NotFoundError('Network', id);
    return n;
  }

  private port(p: Principal, id: string): PortRow {
    const r = this.q('SELECT * FROM ports WHERE id = ?').get(Number(id)) as PortRow | undefined;
    if (!r || !/^\d+$/.test(id) || (!p.admin && r.project !== p.project)) throw new NotFoundError('Port', id);
    return r;
  }

  private subnetsOf(networkId: number): SubnetRow[] {
    return this.q('SELECT * FROM subnets WHERE network_id = ? ORDER BY id').all(networkId) as SubnetRow[];
  }

  private fixedIps(portId: number): FixedIpRow[] {
    return this.q('SELECT * FROM fixed_ips WHERE port_id = ? ORDER BY rowid').all(portId) as FixedIpRow[];
  }

  // ---------- public networks from config
  private ensurePublicNetworks(): void {
    for (const pub of this.cfg.publicNetworks) {
      const exists = this.q('SELECT id FROM networks WHERE public = 1 AND name = ?').get(pub.name);
      if (exists) continue;
      this.db.transaction(() => {
        const t = now();
        const { lastInsertRowid } = this.db
          .prepare("INSERT INTO networks (name, project, type, public, uplink, routing_table, created, updated) VALUES (?, NULL, 'IP_LESS_ROUTED', 1, ?, ?, ?, ?)")
          .run(pub.name, pub.uplink, pub.routingTable, t, t);
        for (const s of pub.subnets) {
          const pools = s.allocationPools.length ? s.allocationPools : defaultPools(s.cidr, s.gateway);
          this.db
            .prepare('INSERT INTO subnets (network_id, project, name, cidr, ip_version, gateway, pools, dns, enable_dhcp) VALUES (?, NULL, ?, ?, ?, ?, ?, ?, 1)')
            .run(lastInsertRowid, `${pub.name}-v${parseCidr(s.cidr).family}`, s.cidr, parseCidr(s.cidr).family, s.gateway ?? null, JSON.stringify(pools), JSON.stringify(s.dns));
        }
      })();
    }
  }

  // ---------- networks
  listNetworks(p: Principal): Body[] {
    const rows = (p.admin ? this.q('SELECT * FROM networks ORDER BY id').all() : this.q('SELECT * FROM networks WHERE public = 1 OR project = ? ORDER BY id').all(p.project)) as NetworkRow[];
    return rows.map((n) => networkView(n, this.subnetsOf(n.id).map((s) => s.id)));
  }

  getNetwork(p: Principal, id: string): Body {
    const n = this.network(p, id);
    return networkView(n, this.subnetsOf(n.id).map((s) => s.id));
  }

  createNetwork(p: Principal, body: Body): Body {
    const name = str(body, 'name') ?? '';
    const type = str(body, 'type') ?? str(body, 'provider:network_type')?.toUpperCase() ?? this.cfg.privateNetworks.defaultType;
    if (body['router:external'] === true && !p.admin) throw new ForbiddenError('Only administrators create public networks (they come from the controller configuration)');
    if (!(this.cfg.privateNetworks.enabledTypes as string[]).includes(type)) {
      throw new BadRequestError('type', `'${type}' is not enabled here (enabled: ${this.cfg.privateNetworks.enabledTypes.join(', ')})`);
    }
    const cidrIn = str(body, 'cidr');
    if (cidrIn !== undefined) this.checkCidr('cidr', cidrIn);
    const n = this.mutate(() => {
      const count = (this.q('SELECT COUNT(*) c FROM networks WHERE public = 0 AND project = ?').get(p.project) as { c: number }).c;
      if (count >= this.cfg.quotas.networks) throw new OverQuotaError('Private Network', this.cfg.quotas.networks - count);
      const segment = type === 'VXLAN' ? this.freeSegment('VXLAN', this.cfg.privateNetworks.vniRange) : type === 'PHYSICAL_VLAN' ? this.freeSegment('PHYSICAL_VLAN', this.cfg.privateNetworks.vlanRange) : null;
      const t = now();
      const { lastInsertRowid } = this.db
        .prepare('INSERT INTO networks (name, project, type, public, segment, created, updated) VALUES (?, ?, ?, 0, ?, ?, ?)')
        .run(name, p.project, type, segment, t, t);
      const id = Number(lastInsertRowid);
      if (type === 'MAC_FILTERED') {
        const prefix = `${this.cfg.privateNetworks.macPrefixPool}:${((id >> 8) & 0xff).toString(16).padStart(2, '0')}:${(id & 0xff).toString(16).padStart(2, '0')}`;
        this.q('UPDATE networks SET mac_prefix = ? WHERE id = ?').run(prefix, id);
      }
      // like the seeds: a private network without a CIDR gets the next free /24 of the range
      const cidr = cidrIn ?? this.freePrivateCidr();
      this.insertSubnet(p, id, { cidr, name: `${name || id}-subnet` });
      return { result: id, hosts: [] };
    });
    return this.getNetwork(p, String(n));
  }

  deleteNetwork(p: Principal, id: string): void {
    const n = this.network(p, id);
    if (n.public === 1) throw new NetworkInUseError(id, 'FORBIDDEN forbidden (Can not delete the public network.)');
    if (!p.admin && n.project !== p.project) throw new NotFoundError('Network', id);
    this.mutate(() => {
      const ports = (this.q('SELECT COUNT(*) c FROM ports WHERE network_id = ?').get(n.id) as { c: number }).c;
      if (ports > 0) throw new NetworkInUseError(id);
      this.q('DELETE FROM subnets WHERE network_id = ?').run(n.id);
      this.q('DELETE FROM networks WHERE id = ?').run(n.id);
      return { result: undefined, hosts: [] };
    });
  }

  private freeSegment(type: string, [lo, hi]: [number, number]): number {
    const used = new Set((this.q('SELECT segment FROM networks WHERE type = ? AND segment IS NOT NULL').all(type) as { segment: number }[]).map((r) => r.segment));
    for (let s = lo; s <= hi; s++) if (!used.has(s)) return s;
    throw new PoolExhaustedError(`No free ${type === 'VXLAN' ? 'VNI' : 'VLAN id'} in ${lo}-${hi}`);
  }

  private freePrivateCidr(): string {
    const used = new Set((this.q('SELECT cidr FROM subnets WHERE project IS NOT NULL').all() as { cidr: string }[]).map((r) => r.cidr));
    for (let n = 1; ; n++) {
      const c = nthSubnet24(this.cfg.privateNetworks.cidrRange, n);
      if (!c) throw new PoolExhaustedError(`No free /24 left in ${this.cfg.privateNetworks.cidrRange}`);
      if (!used.has(c)) return c;
    }
  }

  private checkCidr(field: string, cidr: string): void {
    try {
      ipaddr.parseCIDR(cidr);
    } catch {
      throw new BadRequestError(field, `'${cidr}' is not a valid CIDR`);
    }
    const { address, prefix } = parseCidr(cidr);
    if (networkAddress(cidr) !== address) throw new BadRequestError(field, `'${cidr}' has host bits set (the network is ${networkAddress(cidr)}/${prefix})`);
  }

  // ---------- subnets
  listSubnets(p: Principal): Body[] {
    const nets = new Set(this.listNetworks(p).map((n) => Number(n.id)));
    return (this.q('SELECT * FROM subnets ORDER BY id').all() as SubnetRow[]).filter((s) => nets.has(s.network_id)).map(subnetView);
  }

  getSubnet(p: Principal, id: string): Body {
    const s = this.listSubnets(p).find((x) => x.id === id);
    if (!s) throw new NotFoundError('Subnet', id);
    return s;
  }

  createSubnet(p: Principal, body: Body): Body {
    const n = this.network(p, str(body, 'network_id', true));
    if (n.public === 1 && !p.admin) throw new ForbiddenError('Only administrators change public networks');
    const cidr = str(body, 'cidr', true);
    this.checkCidr('cidr', cidr);
    const version = body.ip_version === undefined ? parseCidr(cidr).family : Number(body.ip_version);
    if (version !== parseCidr(cidr).family) throw new BadRequestError('ip_version', `${version} does not match cidr ${cidr}`);
    const id = this.mutate(() => ({ result: this.insertSubnet(p, n.id, { ...body, cidr }), hosts: this.hostsOfNetwork(n.id) }));
    return this.getSubnet(p, String(id));
  }

  updateSubnet(p: Principal, id: string, body: Body): Body {
    this.getSubnet(p, id);
    if (body.cidr !== undefined) throw new BadRequestError('cidr', "a subnet's CIDR cannot be changed once created");
    throw new BadRequestError(Object.keys(body)[0] ?? 'subnet', 'subnets are immutable in this version');
  }

  deleteSubnet(p: Principal, id: string): void {
    const s = this.getSubnet(p, id);
    this.mutate(() => {
      const used = (this.q('SELECT COUNT(*) c FROM fixed_ips WHERE subnet_id = ?').get(Number(id)) as { c: number }).c;
      if (used > 0) throw new ConflictError(`Subnet ${id} has allocated addresses`);
      this.q('DELETE FROM subnets WHERE id = ?').run(Number(id));
      return { result: undefined, hosts: this.hostsOfNetwork(Number(s.network_id)) };
    });
  }

  private insertSubnet(p: Principal, networkId: number, body: Body): number {
    const cidr = str(body, 'cidr', true);
    const taken = this.q('SELECT network_id FROM subnets WHERE cidr = ? AND project IS NOT NULL').get(cidr) as { network_id: number } | undefined;
    if (taken) throw new ConflictError(`CIDR ${cidr} is already in use by network ${taken.network_id}`);
    const fam = parseCidr(cidr).family;
    const gateway = body.gateway_ip === null ? null : (str(body, 'gateway_ip') ?? null);
    if (gateway !== null) {
      if (!ipaddr.isValid(gateway)) throw new BadRequestError('gateway_ip', `'${gateway}' is not an IP address`);
      if (!cidrContains(cidr, gateway)) throw new BadRequestError('gateway_ip', `${gateway} is outside ${cidr}`);
    }
    let pools = defaultPools(cidr, gateway ?? undefined);
    if (Array.isArray(body.allocation_pools) && body.allocation_pools.length > 0) {
      pools = (body.allocation_pools as Body[]).map((x, i) => {
        const start = str(x, 'start', true);
        const end = str(x, 'end', true);
        for (const a of [start, end]) if (!ipaddr.isValid(a) || !cidrContains(cidr, a)) throw new BadRequestError(`allocation_pools[${i}]`, `${a} is outside ${cidr}`);
        return { start: normalizeAddress(start), end: normalizeAddress(end) };
      });
    }
    const dns = Array.isArray(body.dns_nameservers) ? (body.dns_nameservers as unknown[]).map(String) : [];
    for (const d of dns) if (!ipaddr.isValid(d)) throw new BadRequestError('dns_nameservers', `'${d}' is not an IP address`);
    const routes = Array.isArray(body.host_routes) ? (body.host_routes as Body[]).map((r) => ({ destination: str(r, 'destination', true), nexthop: str(r, 'nexthop', true) })) : [];
    const { lastInsertRowid } = this.db
      .prepare('INSERT INTO subnets (network_id, project, name, cidr, ip_version, gateway, pools, dns, enable_dhcp, host_routes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(networkId, p.project, str(body, 'name') ?? '', cidr, fam, gateway, JSON.stringify(pools), JSON.stringify(dns), body.enable_dhcp === false ? 0 : 1, JSON.stringify(routes));
    return Number(lastInsertRowid);
  }

  // ---------- ports
  listPorts(p: Principal, filter: { device_id?: string; network_id?: string } = {}): Body[] {
    let rows = (p.admin ? this.q('SELECT * FROM ports ORDER BY id').all() : this.q('SELECT * FROM ports WHERE project = ? ORDER BY id').all(p.project)) as PortRow[];
    if (filter.device_id) rows = rows.filter((r) => r.device_id === filter.device_id);
    if (filter.network_id) rows = rows.filter((r) => String(r.network_id) === filter.network_id);
    return rows.map((r) => portView(r, this.fixedIps(r.id)));
  }

  getPort(p: Principal, id: string): Body {
    const r = this.port(p, id);
    return portView(r, this.fixedIps(r.id));
  }

  createPort(p: Principal, body: Body): Body {
    const n = this.network(p, str(body, 'network_id', true));
    const deviceId = str(body, 'device_id') ?? '';
    const host = str(body, 'binding:host_id') || null;
    if (host !== null && !/^[A-Za-z0-9_-]{1,128}$/.test(host)) throw new BadRequestError('binding:host_id', `'${host}' is not a valid host id`);
    const requested = Array.isArray(body.fixed_ips) ? (body.fixed_ips as Body[]).map((f) => str(f, 'ip_address')).filter((x): x is string => !!x) : [];
    for (const a of requested) if (!ipaddr.isValid(a)) throw new BadRequestError('fixed_ips', `'${a}' is not an IP address`);
    const profile = (body['binding:profile'] ?? {}) as Body;
    if (typeof profile !== 'object') throw new BadRequestError('binding:profile', 'must be an object');
    const firewall = str(body, 'firewall_profile') ?? 'DISABLED';
    if (!['DISABLED', 'ENABLED', 'PROTECTED'].includes(firewall)) throw new BadRequestError('firewall_profile', `'${firewall}' is not DISABLED, ENABLED or PROTECTED`);
    const id = this.mutate(() => ({ result: this.insertPort(p, n, deviceId, host, requested, profile, firewall, str(body, 'name')), hosts: [host, ...this.hostsOfNetwork(n.id)] }));
    return this.getPort(p, String(id));
  }

  private insertPort(p: Principal, n: NetworkRow, deviceId: string, host: string | null, requested: string[], profile: Body, firewall: string, name?: string): number {
    if (deviceId && !this.q('SELECT 1 FROM ports WHERE network_id = ? AND device_id = ? LIMIT 1').get(n.id, deviceId)) {
      // a device new on this network counts against the per-network device limit
      const devices = (this.q("SELECT COUNT(DISTINCT device_id) c FROM ports WHERE network_id = ? AND device_id != ''").get(n.id) as { c: number }).c;
      if (devices >= this.cfg.quotas.devicesPerNetwork) throw new OverQuotaError('Devices per network', this.cfg.quotas.devicesPerNetwork - devices);
    }
    if (deviceId) {
      const nics = (this.q('SELECT COUNT(*) c FROM ports WHERE device_id = ?').get(deviceId) as { c: number }).c;
      if (nics >= this.cfg.quotas.nicsPerDevice) throw new OverQuotaError('NICs per device', this.cfg.quotas.nicsPerDevice - nics);
    }
    // the device's NIC index: the lowest unused, so names stay stable (no renaming of others)
    const used = new Set((this.q('SELECT nic_index FROM ports WHERE device_id = ? AND nic_index IS NOT NULL').all(deviceId) as { nic_index: number }[]).map((r) => r.nic_index));
    let nic = 0;
    while (deviceId && used.has(nic)) nic++;
    const mac = this.freeMac(n);
    const t = now();
    const { lastInsertRowid } = this.db
      .prepare('INSERT INTO ports (network_id, project, name, device_id, device_owner, nic_index, mac, host, status, revision, profile, firewall_profile, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)')
      .run(n.id, p.project, name ?? (deviceId ? `nic-${deviceId}-${nic}` : ''), deviceId, deviceId ? 'compute:plumb' : '', deviceId ? nic : null, mac, host, 'BUILD', JSON.stringify(profile), firewall, t, t);
    const portId = Number(lastInsertRowid);
    this.allocateAddresses(p, n, portId, requested);
    return portId;
  }

  private freeMac(n: NetworkRow): string {
    const prefix = n.mac_prefix ?? this.cfg.macPrefix;
    const octets = 6 - prefix.split(':').length;
    for (let i = 0; i < 64; i++) {
      const mac = `${prefix}:${[...randomBytes(octets)].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
      if (!this.q('SELECT 1 FROM ports WHERE mac = ?').get(mac)) return mac;
    }
    throw new PoolExhaustedError(`No free MAC address under ${prefix}`);
  }

  private allocate(s: SubnetRow): string | undefined {
    const fixed = this.q('SELECT 1 FROM fixed_ips WHERE subnet_id = ? AND ip = ?');
    const floating = this.q('SELECT 1 FROM floating_ips WHERE subnet_id = ? AND ip = ?');
    const got = firstFreeFrom(JSON.parse(s.pools) as Pool[], (a) => !!fixed.get(s.id, a) || !!floating.get(s.id, a), s.gateway ?? undefined, this.hints.get(s.id));
    if (got) this.hints.set(s.id, got.next);
    return got?.address;
  }

  /** An address came free: allocation restarts its search there. */
  private release(subnetId: number, address: string): void {
    const v = addressValue(address);
    const h = this.hints.get(subnetId);
    if (h === undefined || v < h) this.hints.set(subnetId, v);
  }

  private allocateAddresses(p: Principal, n: NetworkRow, portId: number, requested: string[]): void {
    const subnets = this.subnetsOf(n.id);
    if (requested.length > 0) {
      for (const raw of requested) {
        const ip = normalizeAddress(raw);
        const s = subnets.find((x) => cidrContains(x.cidr, ip));
        if (!s) throw new BadRequestError('fixed_ips', `${ip} is outside every subnet of network ${n.id}`);
        if (this.q('SELECT 1 FROM fixed_ips WHERE subnet_id = ? AND ip = ?').get(s.id, ip)) throw new IpAddressInUseError(ip);
        const fip = this.q('SELECT * FROM floating_ips WHERE subnet_id = ? AND ip = ?').get(s.id, ip) as FloatingIpRow | undefined;
        if (fip && (fip.project !== p.project || fip.port_id !== null)) throw new IpAddressInUseError(ip);
        if (n.public === 1 && !fip && !p.admin) throw new ForbiddenError(`Reserve ${ip} as a floating IP first (ip create) to use it`);
        this.q('INSERT INTO fixed_ips (port_id, subnet_id, ip) VALUES (?, ?, ?)').run(portId, s.id, ip);
        if (fip) this.q('UPDATE floating_ips SET port_id = ? WHERE id = ?').run(portId, fip.id);
      }
      return;
    }
    // one address per IP version, first free in the pools
    const seen = new Set<number>();
    for (const s of subnets) {
      if (seen.has(s.ip_version)) continue;
      seen.add(s.ip_version);
      const ip = this.allocate(s);
      if (!ip) throw new PoolExhaustedError(`No more IP addresses available on network ${n.id} (subnet ${s.cidr})`);
      this.q('INSERT INTO fixed_ips (port_id, subnet_id, ip) VALUES (?, ?, ?)').run(portId, s.id, ip);
    }
  }

  updatePort(p: Principal, id: string, body: Body): Body {
    const r = this.port(p, id);
    const host = body['binding:host_id'] === undefined ? r.host : str(body, 'binding:host_id') || null;
    const firewall = str(body, 'firewall_profile') ?? r.firewall_profile;
    if (!['DISABLED', 'ENABLED', 'PROTECTED'].includes(firewall)) throw new BadRequestError('firewall_profile', `'${firewall}' is not DISABLED, ENABLED or PROTECTED`);
    this.mutate(() => {
      // a host change is a (live) migration: the port leaves one host's state and joins another's
      this.q("UPDATE ports SET host = ?, firewall_profile = ?, name = COALESCE(?, name), revision = revision + 1, status = CASE WHEN ? THEN 'BUILD' ELSE status END, updated = ? WHERE id = ?").run(host, firewall, str(body, 'name') ?? null, host !== r.host || firewall !== r.firewall_profile ? 1 : 0, now(), r.id);
      return { result: undefined, hosts: [r.host, host, ...this.hostsOfNetwork(r.network_id)] };
    });
    return this.getPort(p, id);
  }

  deletePort(p: Principal, id: string): void {
    const r = this.port(p, id);
    const freed = this.fixedIps(r.id);
    this.mutate(() => {
      const hosts = this.hostsOfNetwork(r.network_id);
      this.q('UPDATE floating_ips SET port_id = NULL WHERE port_id = ?').run(r.id);
      this.q('DELETE FROM ports WHERE id = ?').run(r.id);
      return { result: undefined, hosts };
    });
    for (const f of freed) this.release(f.subnet_id, f.ip);
  }

  // ---------- floating IPs
  listFloatingIps(p: Principal): Body[] {
    const rows = (p.admin ? this.q('SELECT * FROM floating_ips ORDER BY id').all() : this.q('SELECT * FROM floating_ips WHERE project = ? ORDER BY id').all(p.project)) as FloatingIpRow[];
    return rows.map((f) => this.fipView(f));
  }

  private fipView(f: FloatingIpRow): Body {
    const port = f.port_id === null ? undefined : (this.q('SELECT * FROM ports WHERE id = ?').get(f.port_id) as PortRow | undefined);
    return floatingIpView(f, port ? f.ip : undefined, port?.device_id);
  }

  private fip(p: Principal, id: string): FloatingIpRow {
    const f = this.q('SELECT * FROM floating_ips WHERE id = ?').get(Number(id)) as FloatingIpRow | undefined;
    if (!f || !/^\d+$/.test(id) || (!p.admin && f.project !== p.project)) throw new NotFoundError('Floating IP', id);
    return f;
  }

  getFloatingIp(p: Principal, id: string): Body {
    return this.fipView(this.fip(p, id));
  }

  createFloatingIp(p: Principal, body: Body): Body {
    const netId = str(body, 'floating_network_id') ?? String((this.q('SELECT id FROM networks WHERE public = 1 ORDER BY id').get() as { id: number } | undefined)?.id ?? '');
    const n = this.network(p, netId);
    if (n.public !== 1) throw new BadRequestError('floating_network_id', `network ${netId} is not a public network`);
    const id = this.mutate(() => {
      const count = (this.q('SELECT COUNT(*) c FROM floating_ips WHERE project = ?').get(p.project) as { c: number }).c;
      if (count >= this.cfg.quotas.floatingIps) throw new OverQuotaError('Floating IP address', this.cfg.quotas.floatingIps - count);
      const s = this.subnetsOf(n.id).find((x) => x.ip_version === 4) ?? this.subnetsOf(n.id)[0];
      if (!s) throw new PoolExhaustedError(`network ${n.id} has no subnet`);
      const ip = this.allocate(s);
      if (!ip) throw new PoolExhaustedError(`No more IP addresses available on network ${n.id}`);
      const { lastInsertRowid } = this.q('INSERT INTO floating_ips (project, network_id, subnet_id, ip, created) VALUES (?, ?, ?, ?, ?)').run(p.project, n.id, s.id, ip, now());
      return { result: Number(lastInsertRowid), hosts: [] };
    });
    const f = this.fip(p, String(id));
    if (body.port_id) return this.updateFloatingIp(p, String(f.id), { port_id: body.port_id });
    return this.fipView(f);
  }

  /**
   * Attach (port_id: a port of the device) or detach (port_id: null). As in the seeds, attaching
   * is a port on the public network carrying the floating address, on the device's host.
   */
  updateFloatingIp(p: Principal, id: string, body: Body): Body {
    const f = this.fip(p, id);
    if (!('port_id' in body)) throw new BadRequestError('port_id', 'is required (a port of the device, or null to detach)');
    if (body.port_id === null) {
      if (f.port_id !== null) this.deletePort({ ...p, admin: true }, String(f.port_id));
      return this.fipView(this.fip(p, id));
    }
    const target = this.port(p, str(body, 'port_id', true));
    return this.attachToDevice(p, f, target.device_id, target.host);
  }

  attachToDevice(p: Principal, f: FloatingIpRow, deviceId: string, host: string | null): Body {
    if (f.port_id !== null) throw new IpAddressInUseError(f.ip);
    if (!deviceId) throw new BadRequestError('device_id', 'the floating IP needs a device to attach to');
    const n = this.q('SELECT * FROM networks WHERE id = ?').get(f.network_id) as NetworkRow;
    this.mutate(() => ({ result: this.insertPort(p, n, deviceId, host, [f.ip], {}, 'DISABLED'), hosts: [host, ...this.hostsOfNetwork(n.id)] }));
    return this.fipView(this.fip(p, String(f.id)));
  }

  deleteFloatingIp(p: Principal, id: string): void {
    const f = this.fip(p, id);
    if (f.port_id !== null) this.deletePort({ ...p, admin: true }, String(f.port_id));
    this.mutate(() => {
      this.q('DELETE FROM floating_ips WHERE id = ?').run(f.id);
      return { result: undefined, hosts: [] };
    });
    this.release(f.subnet_id, f.ip);
  }

  floatingIpRow(p: Principal, id: string): FloatingIpRow {
    return this.fip(p, id);
  }

  /** The host a device lives on: the host of any of its bound ports. */
  deviceHost(p: Principal, deviceId: string): string | null {
    const r = this.q("SELECT host FROM ports WHERE device_id = ? AND host IS NOT NULL AND (project = ? OR ?) LIMIT 1").get(deviceId, p.project, p.admin ? 1 : 0) as { host: string } | undefined;
    return r?.host ?? null;
  }

  // ---------- quotas
  quotas(p: Principal): Body {
    const q = this.cfg.quotas;
    const count = (sql: string): number => (this.q(sql).get(p.project) as { c: number }).c;
    return {
      network: q.networks,
      floatingip: q.floatingIps,
      port: q.devicesPerNetwork * q.networks,
      usage: {
        network: count('SELECT COUNT(*) c FROM networks WHERE public = 0 AND project = ?'),
        floatingip: count('SELECT COUNT(*) c FROM floating_ips WHERE project = ?'),
        port: count('SELECT COUNT(*) c FROM ports WHERE project = ?'),
      },
      limits: { devices_per_network: q.devicesPerNetwork, nics_per_device: q.nicsPerDevice },
    };
  }

  // ---------- hosts
  hostRows(): HostRow[] {
    return this.q('SELECT * FROM hosts ORDER BY id').all() as HostRow[];
  }

  isAlive(h: HostRow): boolean {
    return !!h.last_seen && Date.now() - Date.parse(h.last_seen) < this.cfg.heartbeatTimeoutSeconds * 1000;
  }

  heartbeat(host: string, underlay: string | undefined, version: string): void {
    const before = this.q('SELECT underlay FROM hosts WHERE id = ?').get(host) as { underlay: string | null } | undefined;
    const changed = (before?.underlay ?? null) !== (underlay ?? null);
    const upsert = (): void => {
      this.q('INSERT INTO hosts (id, underlay, version, last_seen) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET underlay = excluded.underlay, version = excluded.version, last_seen = excluded.last_seen').run(host, underlay ?? null, version, now());
    };
    if (!changed) return upsert();
    // a new underlay address changes the VXLAN remotes of every host sharing a network with it
    this.mutate(() => {
      upsert();
      const nets = (this.q('SELECT DISTINCT network_id FROM ports WHERE host = ?').all(host) as { network_id: number }[]).map((r) => r.network_id);
      return { result: undefined, hosts: [host, ...nets.flatMap((n) => this.hostsOfNetwork(n))] };
    });
  }

  portStatus(host: string, portId: string, status: 'ACTIVE' | 'ERROR', reason: string | undefined, revision: number): void {
    // stale reports (an older revision, or a port since moved elsewhere) are ignored
    this.q('UPDATE ports SET status = ?, status_reason = ?, updated = ? WHERE id = ? AND host = ? AND revision = ?').run(status, reason ?? null, now(), Number(portId), host, revision);
  }
}
