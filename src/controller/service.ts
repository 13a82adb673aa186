// The controller's resources and allocations over the store interface (store.ts). Every
// create/update/delete is one store write unit (atomic: all of it or nothing), bumps the
// generation of every host whose desired state it changes, and notifies listeners after the
// commit. Visibility (projects, admin) and validation live here; no SQL does.
import { randomBytes } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import type { Principal } from './auth.js';
import type { ControllerConfig } from './config.js';
import { HostChanges } from './host-changes.js';
import type { HostChange } from '../state/controller-hooks.js';
import { BadRequestError, ConflictError, ForbiddenError, IpAddressInUseError, NetworkInUseError, NotFoundError, OverQuotaError, PoolExhaustedError } from './errors.js';
import { defaultPools, nthSubnet24 } from './ipam.js';
import type { FixedIpRow, FloatingIpRow, HostRow, NetworkRow, PortRow } from './rows.js';
import { floatingIpView, networkView, portView, subnetView } from './rows.js';
import type { ControllerStore, NewPort, StoreReader, StoreTx } from './store.js';
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

const HOST_ID = /^[A-Za-z0-9_-]{1,128}$/;
const FIREWALL_PROFILES = ['DISABLED', 'ENABLED', 'PROTECTED'];
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Random octets from a pooled buffer (one getrandom per 4 KiB instead of one per MAC). */
let randomPool = Buffer.alloc(0);
let randomOffset = 0;
function randomOctets(n: number): string[] {
  if (randomOffset + n > randomPool.length) {
    randomPool = randomBytes(4096);
    randomOffset = 0;
  }
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(HEX[randomPool[randomOffset++] as number] as string);
  return out;
}

function hostArg(body: Body): string | null {
  const host = str(body, 'binding:host_id') || null;
  if (host !== null && !HOST_ID.test(host)) throw new BadRequestError('binding:host_id', `'${host}' is not a valid host id`);
  return host;
}

function firewallArg(body: Body, fallback: string): string {
  const firewall = str(body, 'firewall_profile') ?? fallback;
  if (!FIREWALL_PROFILES.includes(firewall)) throw new BadRequestError('firewall_profile', `'${firewall}' is not DISABLED, ENABLED or PROTECTED`);
  return firewall;
}

/** Neutron's quota resources that plumb enforces or counts; -1 is unlimited, as in Neutron. */
export const QUOTA_RESOURCES = ['network', 'subnet', 'port', 'floatingip'] as const;
export type QuotaResource = (typeof QUOTA_RESOURCES)[number];

export interface Quotas {
  project: string;
  limit: Record<QuotaResource, number>;
  usage: Record<QuotaResource, number>;
  limits: { devices_per_network: number; nics_per_device: number };
}

export class ControllerService {
  private readonly listeners = new Set<(changes: HostChange[]) => void>();

  private constructor(
    readonly store: ControllerStore,
    readonly cfg: ControllerConfig,
  ) {}

  /** The service over `store`, with the public networks of the config created if missing. */
  static async open(store: ControllerStore, cfg: ControllerConfig): Promise<ControllerService> {
    const svc = new ControllerService(store, cfg);
    await svc.ensurePublicNetworks();
    return svc;
  }

  // ---------- change notification
  onHostsChanged(listener: (changes: HostChange[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once every unit submitted before it is committed (reads of committed state after it see them). */
  settled(): Promise<void> {
    return this.store.read(() => Promise.resolve());
  }

  /**
   * One write unit; fn records what it changed in hosts' desired state; their generations are
   * bumped in the same unit and listeners told after the commit.
   */
  private async mutate<T>(fn: (tx: StoreTx, changes: HostChanges) => Promise<T>): Promise<T> {
    let changes = new HostChanges();
    const result = await this.store.write(async (tx) => {
      changes = new HostChanges(); // a unit may be run again: only the last run counts
      const r = await fn(tx, changes);
      const hosts = changes.hosts();
      if (hosts.length) await tx.bumpGenerations(hosts);
      return r;
    });
    const list = changes.list();
    if (list.length) for (const l of this.listeners) l(list);
    return result;
  }

  /**
   * A VXLAN network's object on each host lists the other hosts' VTEPs: when `host` joins or
   * leaves the network, the network's object changes on every other host that has it.
   */
  private async vtepsChanged(tx: StoreTx, changes: HostChanges, networkId: number, host: string): Promise<void> {
    for (const h of await tx.hostsOfNetwork(networkId)) if (h !== host) changes.network(h, networkId);
  }

  /** Whether adding a port of network `n` on `host` makes the host join a VXLAN network. */
  private async joinsVxlan(tx: StoreTx, n: NetworkRow, host: string | null): Promise<boolean> {
    return n.type === 'VXLAN' && host !== null && !(await tx.hostHasPortOn(host, n.id));
  }

  /** Record a port that appeared on (or changed on) `host`. */
  private async portAdded(tx: StoreTx, changes: HostChanges, n: NetworkRow, host: string | null, portId: number, joined: boolean): Promise<void> {
    changes.port(host, portId, n.id);
    if (joined && host) await this.vtepsChanged(tx, changes, n.id, host);
  }

  /** Record a port that left `host` (deleted or moved); call after the change. */
  private async portLeft(tx: StoreTx, changes: HostChanges, r: PortRow): Promise<void> {
    changes.port(r.host, r.id, r.network_id);
    if (!r.host || (await tx.hostHasPortOn(r.host, r.network_id))) return;
    if ((await tx.network(r.network_id))?.type === 'VXLAN') await this.vtepsChanged(tx, changes, r.network_id, r.host);
  }

  // ---------- visibility
  private async network(r: StoreReader, p: Principal, id: string): Promise<NetworkRow> {
    const n = /^\d+$/.test(id) ? await r.network(Number(id)) : undefined;
    if (!n || (!p.admin && n.public === 0 && n.project !== p.project)) throw new NotFoundError('Network', id);
    return n;
  }

  private async port(r: StoreReader, p: Principal, id: string): Promise<PortRow> {
    const row = /^\d+$/.test(id) ? await r.port(Number(id)) : undefined;
    if (!row || (!p.admin && row.project !== p.project)) throw new NotFoundError('Port', id);
    return row;
  }

  private async fip(r: StoreReader, p: Principal, id: string): Promise<FloatingIpRow> {
    const f = /^\d+$/.test(id) ? await r.floatingIp(Number(id)) : undefined;
    if (!f || (!p.admin && f.project !== p.project)) throw new NotFoundError('Floating IP', id);
    return f;
  }

  private async networkBody(r: StoreReader, n: NetworkRow): Promise<Body> {
    return networkView(n, (await r.subnetsOf(n.id)).map((s) => s.id));
  }

  private async portBody(r: StoreReader, row: PortRow): Promise<Body> {
    return portView(row, await r.fixedIps(row.id));
  }

  private async fipBody(r: StoreReader, f: FloatingIpRow): Promise<Body> {
    const port = f.port_id === null ? undefined : await r.port(f.port_id);
    return floatingIpView(f, port ? f.ip : undefined, port?.device_id);
  }

  // ---------- public networks from config
  private async ensurePublicNetworks(): Promise<void> {
    for (const pub of this.cfg.publicNetworks) {
      await this.store.write(async (tx) => {
        if (await tx.publicNetworkByName(pub.name)) return;
        const t = now();
        const id = await tx.insertNetwork({ name: pub.name, project: null, type: 'IP_LESS_ROUTED', public: true, segment: null, uplink: pub.uplink, routingTable: pub.routingTable, at: t });
        for (const s of pub.subnets) {
          const pools = s.allocationPools.length ? s.allocationPools : defaultPools(s.cidr, s.gateway);
          const family = parseCidr(s.cidr).family;
          await tx.insertSubnet({ networkId: id, project: null, name: `${pub.name}-v${family}`, cidr: s.cidr, ipVersion: family, gateway: s.gateway ?? null, pools: JSON.stringify(pools), dns: JSON.stringify(s.dns), enableDhcp: true, hostRoutes: '[]' });
        }
      });
    }
  }

  // ---------- networks
  listNetworks(p: Principal): Promise<Body[]> {
    return this.store.read(async (r) => {
      const rows = await r.networks(p.admin ? undefined : p.project);
      return Promise.all(rows.map((n) => this.networkBody(r, n)));
    });
  }

  getNetwork(p: Principal, id: string): Promise<Body> {
    return this.store.read(async (r) => this.networkBody(r, await this.network(r, p, id)));
  }

  async createNetwork(p: Principal, body: Body): Promise<Body> {
    const name = str(body, 'name') ?? '';
    const type = str(body, 'type') ?? str(body, 'provider:network_type')?.toUpperCase() ?? this.cfg.privateNetworks.defaultType;
    if (body['router:external'] === true && !p.admin) throw new ForbiddenError('Only administrators create public networks (they come from the controller configuration)');
    if (!(this.cfg.privateNetworks.enabledTypes as string[]).includes(type)) {
      throw new BadRequestError('type', `'${type}' is not enabled here (enabled: ${this.cfg.privateNetworks.enabledTypes.join(', ')})`);
    }
    const cidrIn = str(body, 'cidr');
    if (cidrIn !== undefined) this.checkCidr('cidr', cidrIn);
    return this.mutate(async (tx) => {
      const count = await tx.countPrivateNetworks(p.project);
      if (count >= this.cfg.quotas.networks) throw new OverQuotaError('Private Network', this.cfg.quotas.networks - count);
      const segment = type === 'VXLAN' ? await this.freeSegment(tx, 'VXLAN', this.cfg.privateNetworks.vniRange) : type === 'PHYSICAL_VLAN' ? await this.freeSegment(tx, 'PHYSICAL_VLAN', this.cfg.privateNetworks.vlanRange) : null;
      const pool = this.cfg.privateNetworks.macPrefixPool;
      const id = await tx.insertNetwork({
        name,
        project: p.project,
        type,
        public: false,
        segment,
        uplink: null,
        routingTable: null,
        ...(type === 'MAC_FILTERED' ? { macPrefix: (nid: number) => `${pool}:${HEX[(nid >> 8) & 0xff]}:${HEX[nid & 0xff]}` } : {}),
        at: now(),
      });
      // like the seeds: a private network without a CIDR gets the next free /24 of the range
      const cidr = cidrIn ?? (await this.freePrivateCidr(tx));
      await this.insertSubnet(tx, p, id, { cidr, name: `${name || id}-subnet` });
      const n = await tx.network(id);
      if (!n) throw new NotFoundError('Network', String(id));
      return this.networkBody(tx, n);
    });
  }

  async deleteNetwork(p: Principal, id: string): Promise<void> {
    await this.mutate(async (tx) => {
      const n = await this.network(tx, p, id);
      if (n.public === 1) throw new NetworkInUseError(id, 'FORBIDDEN forbidden (Can not delete the public network.)');
      if (!p.admin && n.project !== p.project) throw new NotFoundError('Network', id);
      if ((await tx.countPortsOfNetwork(n.id)) > 0) throw new NetworkInUseError(id);
      await tx.deleteNetwork(n.id);
    });
  }

  private async freeSegment(tx: StoreTx, type: string, [lo, hi]: [number, number]): Promise<number> {
    const used = new Set(await tx.usedSegments(type));
    for (let s = lo; s <= hi; s++) if (!used.has(s)) return s;
    throw new PoolExhaustedError(`No free ${type === 'VXLAN' ? 'VNI' : 'VLAN id'} in ${lo}-${hi}`);
  }

  private async freePrivateCidr(tx: StoreTx): Promise<string> {
    const used = new Set(await tx.privateCidrs());
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
  listSubnets(p: Principal): Promise<Body[]> {
    return this.store.read(async (r) => {
      const nets = new Set((await r.networks(p.admin ? undefined : p.project)).map((n) => n.id));
      return (await r.subnets()).filter((s) => nets.has(s.network_id)).map(subnetView);
    });
  }

  /** A subnet the principal may see (that of a network it may see), or 404. */
  private async visibleSubnet(r: StoreReader, p: Principal, id: string): Promise<Body> {
    const s = /^\d+$/.test(id) ? await r.subnet(Number(id)) : undefined;
    const n = s ? await r.network(s.network_id) : undefined;
    if (!s || !n || (!p.admin && n.public === 0 && n.project !== p.project)) throw new NotFoundError('Subnet', id);
    return subnetView(s);
  }

  getSubnet(p: Principal, id: string): Promise<Body> {
    return this.store.read((r) => this.visibleSubnet(r, p, id));
  }

  async createSubnet(p: Principal, body: Body): Promise<Body> {
    const networkId = str(body, 'network_id', true);
    return this.mutate(async (tx, changes) => {
      const n = await this.network(tx, p, networkId);
      if (n.public === 1 && !p.admin) throw new ForbiddenError('Only administrators change public networks');
      const cidr = str(body, 'cidr', true);
      this.checkCidr('cidr', cidr);
      const version = body.ip_version === undefined ? parseCidr(cidr).family : Number(body.ip_version);
      if (version !== parseCidr(cidr).family) throw new BadRequestError('ip_version', `${version} does not match cidr ${cidr}`);
      const id = await this.insertSubnet(tx, p, n.id, { ...body, cidr });
      for (const h of await tx.hostsOfNetwork(n.id)) changes.network(h, n.id);
      return this.visibleSubnet(tx, p, String(id));
    });
  }

  async updateSubnet(p: Principal, id: string, body: Body): Promise<Body> {
    await this.getSubnet(p, id);
    if (body.cidr !== undefined) throw new BadRequestError('cidr', "a subnet's CIDR cannot be changed once created");
    throw new BadRequestError(Object.keys(body)[0] ?? 'subnet', 'subnets are immutable in this version');
  }

  async deleteSubnet(p: Principal, id: string): Promise<void> {
    await this.mutate(async (tx, changes) => {
      const s = await this.visibleSubnet(tx, p, id);
      if ((await tx.countFixedIpsOfSubnet(Number(id))) > 0) throw new ConflictError(`Subnet ${id} has allocated addresses`);
      await tx.deleteSubnet(Number(id));
      for (const h of await tx.hostsOfNetwork(Number(s.network_id))) changes.network(h, Number(s.network_id));
    });
  }

  private async insertSubnet(tx: StoreTx, p: Principal, networkId: number, body: Body): Promise<number> {
    const cidr = str(body, 'cidr', true);
    const taken = await tx.privateCidrOwner(cidr);
    if (taken !== undefined) throw new ConflictError(`CIDR ${cidr} is already in use by network ${taken}`);
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
    return tx.insertSubnet({ networkId, project: p.project, name: str(body, 'name') ?? '', cidr, ipVersion: fam, gateway, pools: JSON.stringify(pools), dns: JSON.stringify(dns), enableDhcp: body.enable_dhcp !== false, hostRoutes: JSON.stringify(routes) });
  }

  // ---------- ports
  listPorts(p: Principal, filter: { device_id?: string; network_id?: string } = {}): Promise<Body[]> {
    return this.store.read(async (r) => {
      let rows = await r.ports(p.admin ? undefined : p.project);
      if (filter.device_id) rows = rows.filter((x) => x.device_id === filter.device_id);
      if (filter.network_id) rows = rows.filter((x) => String(x.network_id) === filter.network_id);
      const ips = await r.fixedIpsOf(rows.map((x) => x.id));
      return rows.map((x) => portView(x, ips.get(x.id) ?? []));
    });
  }

  getPort(p: Principal, id: string): Promise<Body> {
    return this.store.read(async (r) => this.portBody(r, await this.port(r, p, id)));
  }

  async createPort(p: Principal, body: Body): Promise<Body> {
    const networkId = str(body, 'network_id', true);
    return this.mutate(async (tx, changes) => {
      const n = await this.network(tx, p, networkId);
      const deviceId = str(body, 'device_id') ?? '';
      const host = hostArg(body);
      const requested = Array.isArray(body.fixed_ips) ? (body.fixed_ips as Body[]).map((f) => str(f, 'ip_address')).filter((x): x is string => !!x) : [];
      for (const a of requested) if (!ipaddr.isValid(a)) throw new BadRequestError('fixed_ips', `'${a}' is not an IP address`);
      const profile = (body['binding:profile'] ?? {}) as Body;
      if (typeof profile !== 'object') throw new BadRequestError('binding:profile', 'must be an object');
      const firewall = firewallArg(body, 'DISABLED');
      const joined = await this.joinsVxlan(tx, n, host);
      const created = await this.insertPort(tx, p, n, deviceId, host, requested, profile, firewall, str(body, 'name'));
      await this.portAdded(tx, changes, n, host, created.row.id, joined);
      return portView(created.row, created.ips);
    });
  }

  /** Inserts a port with its addresses in `tx`; the row and addresses as stored (no read-back). */
  private async insertPort(tx: StoreTx, p: Principal, n: NetworkRow, deviceId: string, host: string | null, requested: string[], profile: Body, firewall: string, name?: string): Promise<{ row: PortRow; ips: FixedIpRow[] }> {
    const q = this.cfg.quotas;
    const mine = deviceId ? await tx.devicePorts(deviceId) : [];
    const newDevice = !!deviceId && !mine.some((x) => x.networkId === n.id);
    if (newDevice) {
      // a device new on this network counts against the per-network device limit
      const devices = await tx.deviceCount(n.id);
      if (devices >= q.devicesPerNetwork) throw new OverQuotaError('Devices per network', q.devicesPerNetwork - devices);
    }
    let nic = 0;
    if (deviceId) {
      if (mine.length >= q.nicsPerDevice) throw new OverQuotaError('NICs per device', q.nicsPerDevice - mine.length);
      // the device's NIC index: the lowest unused, so names stay stable (no renaming of others)
      const used = new Set(mine.map((x) => x.nicIndex));
      while (used.has(nic)) nic++;
    }
    const port: NewPort = {
      networkId: n.id,
      newDevice,
      project: p.project,
      name: name ?? (deviceId ? `nic-${deviceId}-${nic}` : ''),
      deviceId,
      deviceOwner: deviceId ? 'compute:plumb' : '',
      nicIndex: deviceId ? nic : null,
      mac: await this.freeMac(tx, n),
      host,
      profile: JSON.stringify(profile),
      firewallProfile: firewall,
      at: now(),
    };
    const id = await tx.insertPort(port);
    const ips = await this.allocateAddresses(tx, p, n, id, requested);
    const row: PortRow = {
      id,
      network_id: port.networkId,
      project: port.project,
      name: port.name,
      device_id: port.deviceId,
      device_owner: port.deviceOwner,
      nic_index: port.nicIndex,
      mac: port.mac,
      host: port.host,
      status: 'BUILD',
      status_reason: null,
      revision: 1,
      profile: port.profile,
      firewall_profile: port.firewallProfile,
      created: port.at,
      updated: port.at,
    };
    return { row, ips };
  }

  private async freeMac(tx: StoreTx, n: NetworkRow): Promise<string> {
    const prefix = n.mac_prefix ?? this.cfg.macPrefix;
    const octets = 6 - prefix.split(':').length;
    for (let i = 0; i < 64; i++) {
      const mac = `${prefix}:${randomOctets(octets).join(':')}`;
      if (!(await tx.macInUse(mac))) return mac;
    }
    throw new PoolExhaustedError(`No free MAC address under ${prefix}`);
  }

  /** The port's addresses: the requested ones, or the first free of each IP version. */
  private async allocateAddresses(tx: StoreTx, p: Principal, n: NetworkRow, portId: number, requested: string[]): Promise<FixedIpRow[]> {
    const subnets = await tx.subnetsOf(n.id);
    const out: FixedIpRow[] = [];
    if (requested.length > 0) {
      for (const raw of requested) {
        const ip = normalizeAddress(raw);
        const s = subnets.find((x) => cidrContains(x.cidr, ip));
        if (!s) throw new BadRequestError('fixed_ips', `${ip} is outside every subnet of network ${n.id}`);
        if (await tx.fixedIpInUse(s.id, ip)) throw new IpAddressInUseError(ip);
        const fip = await tx.floatingIpAt(s.id, ip);
        if (fip && (fip.project !== p.project || fip.port_id !== null)) throw new IpAddressInUseError(ip);
        if (n.public === 1 && !fip && !p.admin) throw new ForbiddenError(`Reserve ${ip} as a floating IP first (ip create) to use it`);
        await tx.insertFixedIp(portId, s.id, ip);
        out.push({ port_id: portId, subnet_id: s.id, ip });
        if (fip) await tx.setFloatingIpPort(fip.id, portId);
      }
      return out;
    }
    // one address per IP version, first free in the pools
    const seen = new Set<number>();
    for (const s of subnets) {
      if (seen.has(s.ip_version)) continue;
      seen.add(s.ip_version);
      const ip = await tx.firstFreeAddress(s);
      if (!ip) throw new PoolExhaustedError(`No more IP addresses available on network ${n.id} (subnet ${s.cidr})`);
      await tx.insertFixedIp(portId, s.id, ip);
      out.push({ port_id: portId, subnet_id: s.id, ip });
    }
    return out;
  }

  async updatePort(p: Principal, id: string, body: Body): Promise<Body> {
    return this.mutate(async (tx, changes) => {
      const r = await this.port(tx, p, id);
      const host = body['binding:host_id'] === undefined ? r.host : hostArg(body);
      const firewall = firewallArg(body, r.firewall_profile);
      const n = await tx.network(r.network_id);
      if (!n) throw new NotFoundError('Network', String(r.network_id));
      const joined = host !== r.host && (await this.joinsVxlan(tx, n, host));
      // a host change is a (live) migration: the port leaves one host's state and joins another's
      await tx.updatePort(r.id, { host, firewallProfile: firewall, name: str(body, 'name'), rebuild: host !== r.host || firewall !== r.firewall_profile, at: now() });
      const row = await tx.port(r.id);
      if (!row) throw new NotFoundError('Port', id);
      if (host !== r.host) await this.portLeft(tx, changes, r);
      await this.portAdded(tx, changes, n, host, r.id, joined);
      return this.portBody(tx, row);
    });
  }

  /** Deletes a port in `tx`, recording what that changes for its host (and VXLAN peers). */
  private async removePort(tx: StoreTx, changes: HostChanges, r: PortRow): Promise<void> {
    await tx.deletePort(r.id);
    await this.portLeft(tx, changes, r);
  }

  async deletePort(p: Principal, id: string): Promise<void> {
    await this.mutate(async (tx, changes) => this.removePort(tx, changes, await this.port(tx, p, id)));
  }

  // ---------- floating IPs
  listFloatingIps(p: Principal): Promise<Body[]> {
    return this.store.read(async (r) => Promise.all((await r.floatingIps(p.admin ? undefined : p.project)).map((f) => this.fipBody(r, f))));
  }

  getFloatingIp(p: Principal, id: string): Promise<Body> {
    return this.store.read(async (r) => this.fipBody(r, await this.fip(r, p, id)));
  }

  /** Allocates a floating IP (and attaches it to port_id's device when given), all or nothing. */
  async createFloatingIp(p: Principal, body: Body): Promise<Body> {
    return this.mutate(async (tx, changes) => {
      const netId = str(body, 'floating_network_id') ?? String((await tx.firstPublicNetwork())?.id ?? '');
      const n = await this.network(tx, p, netId);
      if (n.public !== 1) throw new BadRequestError('floating_network_id', `network ${netId} is not a public network`);
      const count = await tx.countFloatingIps(p.project);
      if (count >= this.cfg.quotas.floatingIps) throw new OverQuotaError('Floating IP address', this.cfg.quotas.floatingIps - count);
      const subnets = await tx.subnetsOf(n.id);
      const s = subnets.find((x) => x.ip_version === 4) ?? subnets[0];
      if (!s) throw new PoolExhaustedError(`network ${n.id} has no subnet`);
      const ip = await tx.firstFreeAddress(s);
      if (!ip) throw new PoolExhaustedError(`No more IP addresses available on network ${n.id}`);
      const id = await tx.insertFloatingIp({ project: p.project, networkId: n.id, subnetId: s.id, ip, at: now() });
      const f = await this.fip(tx, p, String(id));
      if (!body.port_id) return this.fipBody(tx, f);
      const target = await this.port(tx, p, str(body, 'port_id', true));
      return this.attach(tx, changes, p, f, target.device_id, target.host);
    });
  }

  /**
   * Attach (port_id: a port of the device) or detach (port_id: null). As in the seeds, attaching
   * is a port on the public network carrying the floating address, on the device's host.
   */
  async updateFloatingIp(p: Principal, id: string, body: Body): Promise<Body> {
    if (!('port_id' in body)) throw new BadRequestError('port_id', 'is required (a port of the device, or null to detach)');
    return this.mutate(async (tx, changes) => {
      const f = await this.fip(tx, p, id);
      if (body.port_id === null) {
        const attached = f.port_id === null ? undefined : await tx.port(f.port_id);
        if (attached) await this.removePort(tx, changes, attached);
        return this.fipBody(tx, await this.fip(tx, p, id));
      }
      const target = await this.port(tx, p, str(body, 'port_id', true));
      return this.attach(tx, changes, p, f, target.device_id, target.host);
    });
  }

  /** plumb's own: attach a floating IP to a device, on the device's host unless `host` is given. */
  async attachFloatingIp(p: Principal, id: string, body: Body): Promise<Body> {
    const device = str(body, 'device_id') ?? '';
    const hostIn = str(body, 'host');
    if (hostIn !== undefined && !HOST_ID.test(hostIn)) throw new BadRequestError('host', `'${hostIn}' is not a valid host id`);
    return this.mutate(async (tx, changes) => {
      const f = await this.fip(tx, p, id);
      const host = hostIn ?? (await tx.deviceHost(device, p.admin ? undefined : p.project));
      return this.attach(tx, changes, p, f, device, host);
    });
  }

  private async attach(tx: StoreTx, changes: HostChanges, p: Principal, f: FloatingIpRow, deviceId: string, host: string | null): Promise<Body> {
    if (f.port_id !== null) throw new IpAddressInUseError(f.ip);
    if (!deviceId) throw new BadRequestError('device_id', 'the floating IP needs a device to attach to');
    const n = await tx.network(f.network_id);
    if (!n) throw new NotFoundError('Network', String(f.network_id));
    const joined = await this.joinsVxlan(tx, n, host);
    const created = await this.insertPort(tx, p, n, deviceId, host, [f.ip], {}, 'DISABLED');
    await this.portAdded(tx, changes, n, host, created.row.id, joined);
    const after = await tx.floatingIp(f.id);
    if (!after) throw new NotFoundError('Floating IP', String(f.id));
    return this.fipBody(tx, after);
  }

  async deleteFloatingIp(p: Principal, id: string): Promise<void> {
    await this.mutate(async (tx, changes) => {
      const f = await this.fip(tx, p, id);
      const attached = f.port_id === null ? undefined : await tx.port(f.port_id);
      if (attached) await this.removePort(tx, changes, attached);
      await tx.deleteFloatingIp(f.id);
    });
  }

  // ---------- projects (from the config's users) and quotas
  /** The projects the principal may see: all for an admin, its own otherwise. */
  projects(p: Principal): string[] {
    if (!p.admin) return [p.project];
    return [...new Set([p.project, ...this.cfg.users.map((u) => u.project)])].sort();
  }

  /** A project the principal may see, or 404 naming it. */
  project(p: Principal, id: string): string {
    if (!this.projects(p).includes(id)) throw new NotFoundError('Project', id);
    return id;
  }

  /** The limits every project gets (the same for all: they come from the config). */
  defaultQuotas(): Record<QuotaResource, number> {
    const q = this.cfg.quotas;
    return { network: q.networks, subnet: -1, port: q.devicesPerNetwork * q.networks, floatingip: q.floatingIps };
  }

  quotas(p: Principal, projectId: string = p.project): Promise<Quotas> {
    const project = this.project(p, projectId);
    const q = this.cfg.quotas;
    return this.store.read(async (r) => ({
      project,
      limit: this.defaultQuotas(),
      usage: { network: await r.countPrivateNetworks(project), subnet: await r.countSubnets(project), port: await r.countPorts(project), floatingip: await r.countFloatingIps(project) },
      limits: { devices_per_network: q.devicesPerNetwork, nics_per_device: q.nicsPerDevice },
    }));
  }

  // ---------- hosts
  hostRows(): Promise<HostRow[]> {
    return this.store.read((r) => r.hosts());
  }

  isAlive(h: HostRow): boolean {
    return !!h.last_seen && Date.now() - Date.parse(h.last_seen) < this.cfg.heartbeatTimeoutSeconds * 1000;
  }

  async heartbeat(host: string, underlay: string | undefined, version: string): Promise<void> {
    await this.mutate(async (tx, changes) => {
      const before = await tx.host(host);
      await tx.upsertHost({ id: host, underlay: underlay ?? null, version, lastSeen: now() });
      if ((before?.underlay ?? null) === (underlay ?? null)) return;
      // a new underlay address: the host's own meta, and the VXLAN remotes of every host
      // sharing a network with it
      changes.meta(host);
      for (const n of await tx.networksOfHost(host)) for (const h of await tx.hostsOfNetwork(n)) if (h !== host) changes.network(h, n);
    });
  }

  async portStatus(host: string, portId: string, status: 'ACTIVE' | 'ERROR', reason: string | undefined, revision: number): Promise<void> {
    // stale reports (an older revision, or a port since moved elsewhere) are ignored
    await this.store.write((tx) => tx.setPortStatus({ host, portId: Number(portId), status, reason: reason ?? null, revision, at: now() }));
  }
}
