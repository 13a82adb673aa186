// Ports: a NIC of a device on a network, with its MAC, its fixed addresses and its binding (the
// host and how the agent plugs it). Creating, moving or deleting one changes its host's desired
// state, and a VXLAN network's object on the hosts that share it.
import { randomBytes } from 'node:crypto';
import type { Principal } from '../auth.js';
import type { CreatePortRequest, UpdatePortRequest } from '../api/port-requests.js';
import { BadRequestError, ForbiddenError, IpAddressInUseError, MacAddressInUseError, NotFoundError, OverQuotaError, PoolExhaustedError } from '../errors.js';
import type { HostChanges } from '../host-changes.js';
import type { FixedIpRow, NetworkRow, PortRow } from '../rows.js';
import { portView } from '../rows.js';
import { now, type Body, type ServiceCore } from '../service-core.js';
import type { NewPort, StoreTx } from '../store.js';
import { cidrContains, normalizeAddress } from '../../util/ip.js';
import { HEX } from './networks.js';

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

/** What a new port asks for, decoded (CreatePortRequest) or made by the service (attachments). */
export interface PortSpec {
  deviceId: string;
  host: string | null;
  fixedIps: { ip_address?: string; subnet_id?: string }[];
  mac?: string;
  profile: Record<string, unknown>;
  firewall: string;
  name?: string;
}

export class Ports {
  constructor(private readonly core: ServiceCore) {}

  list(p: Principal, filter: { device_id?: string; network_id?: string } = {}): Promise<Body[]> {
    return this.core.store.read(async (r) => {
      let rows = await r.ports(p.admin ? undefined : p.project);
      if (filter.device_id) rows = rows.filter((x) => x.device_id === filter.device_id);
      if (filter.network_id) rows = rows.filter((x) => String(x.network_id) === filter.network_id);
      const ips = await r.fixedIpsOf(rows.map((x) => x.id));
      return rows.map((x) => portView(x, ips.get(x.id) ?? []));
    });
  }

  get(p: Principal, id: string): Promise<Body> {
    return this.core.store.read(async (r) => this.core.portBody(r, await this.core.port(r, p, id)));
  }

  create(p: Principal, req: CreatePortRequest): Promise<Body> {
    return this.core.mutate(async (tx, changes) => {
      const n = await this.core.network(tx, p, req.networkId);
      const joined = await this.core.joinsVxlan(tx, n, req.host);
      const created = await this.insert(tx, p, n, { ...req, firewall: req.firewall ?? 'DISABLED' });
      await this.core.portAdded(tx, changes, n, req.host, created.row.id, joined);
      return portView(created.row, created.ips);
    });
  }

  /** Inserts a port with its addresses in `tx`; the row and addresses as stored (no read-back). */
  async insert(tx: StoreTx, p: Principal, n: NetworkRow, spec: PortSpec): Promise<{ row: PortRow; ips: FixedIpRow[] }> {
    const q = this.core.cfg.quotas;
    const { deviceId, host } = spec;
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
      name: spec.name ?? (deviceId ? `nic-${deviceId}-${nic}` : ''),
      deviceId,
      deviceOwner: deviceId ? 'compute:plumb' : '',
      nicIndex: deviceId ? nic : null,
      mac: spec.mac === undefined ? await this.freeMac(tx, n) : await this.requestedMac(tx, n, spec.mac),
      host,
      profile: JSON.stringify(spec.profile),
      firewallProfile: spec.firewall,
      at: now(),
    };
    const id = await tx.insertPort(port);
    const ips = await this.allocateAddresses(tx, p, n, id, spec.fixedIps);
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

  /** A MAC the client chose: free, and on a MAC_FILTERED network under its prefix (isolation). */
  private async requestedMac(tx: StoreTx, n: NetworkRow, mac: string): Promise<string> {
    if (n.mac_prefix && !mac.startsWith(`${n.mac_prefix}:`)) throw new BadRequestError('mac_address', `${mac} is not under the network's MAC prefix ${n.mac_prefix} (MAC_FILTERED networks are told apart by it)`);
    if (await tx.macInUse(mac)) throw new MacAddressInUseError(mac);
    return mac;
  }

  private async freeMac(tx: StoreTx, n: NetworkRow): Promise<string> {
    const prefix = n.mac_prefix ?? this.core.cfg.macPrefix;
    const octets = 6 - prefix.split(':').length;
    for (let i = 0; i < 64; i++) {
      const mac = `${prefix}:${randomOctets(octets).join(':')}`;
      if (!(await tx.macInUse(mac))) return mac;
    }
    throw new PoolExhaustedError(`No free MAC address under ${prefix}`);
  }

  /** The port's addresses: the requested ones, or the first free of each IP version. */
  private async allocateAddresses(tx: StoreTx, p: Principal, n: NetworkRow, portId: number, requested: PortSpec['fixedIps']): Promise<FixedIpRow[]> {
    const subnets = await tx.subnetsOf(n.id);
    const out: FixedIpRow[] = [];
    if (requested.length > 0) {
      for (const [i, want] of requested.entries()) {
        const field = `fixed_ips[${i}]`;
        const inSubnet = want.subnet_id === undefined ? undefined : subnets.find((x) => String(x.id) === want.subnet_id);
        if (want.subnet_id !== undefined && !inSubnet) throw new BadRequestError(`${field}.subnet_id`, `subnet ${want.subnet_id} is not a subnet of network ${n.id}`);
        if (want.ip_address === undefined) {
          const s = inSubnet as NonNullable<typeof inSubnet>;
          const ip = await tx.firstFreeAddress(s);
          if (!ip) throw new PoolExhaustedError(`No more IP addresses available on network ${n.id} (subnet ${s.cidr})`);
          await tx.insertFixedIp(portId, s.id, ip);
          out.push({ port_id: portId, subnet_id: s.id, ip });
          continue;
        }
        const ip = normalizeAddress(want.ip_address);
        const s = inSubnet ?? subnets.find((x) => cidrContains(x.cidr, ip));
        if (!s || !cidrContains(s.cidr, ip)) throw new BadRequestError(`${field}.ip_address`, `${ip} is outside ${inSubnet ? `subnet ${inSubnet.id} (${inSubnet.cidr})` : `every subnet of network ${n.id}`}`);
        if (out.some((o) => o.ip === ip) || (await tx.fixedIpInUse(s.id, ip))) throw new IpAddressInUseError(ip);
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

  update(p: Principal, id: string, req: UpdatePortRequest): Promise<Body> {
    return this.core.mutate(async (tx, changes) => {
      const r = await this.core.port(tx, p, id);
      const host = req.host === undefined ? r.host : req.host;
      const firewall = req.firewall ?? r.firewall_profile;
      const n = await tx.network(r.network_id);
      if (!n) throw new NotFoundError('Network', String(r.network_id));
      const joined = host !== r.host && (await this.core.joinsVxlan(tx, n, host));
      // a host change is a (live) migration: the port leaves one host's state and joins another's
      await tx.updatePort(r.id, { host, firewallProfile: firewall, name: req.name, rebuild: host !== r.host || firewall !== r.firewall_profile, at: now() });
      const row = await tx.port(r.id);
      if (!row) throw new NotFoundError('Port', id);
      if (host !== r.host) await this.core.portLeft(tx, changes, r);
      await this.core.portAdded(tx, changes, n, host, r.id, joined);
      return this.core.portBody(tx, row);
    });
  }

  /** Deletes a port in `tx`, recording what that changes for its host (and VXLAN peers). */
  async remove(tx: StoreTx, changes: HostChanges, r: PortRow): Promise<void> {
    await tx.deletePort(r.id);
    await this.core.portLeft(tx, changes, r);
  }

  async delete(p: Principal, id: string): Promise<void> {
    await this.core.mutate(async (tx, changes) => this.remove(tx, changes, await this.core.port(tx, p, id)));
  }
}
