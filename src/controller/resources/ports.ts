// Ports: a NIC of a device on a network, with its MAC, its fixed addresses and its binding (the
// host and how the agent plugs it). Creating, moving or deleting one changes its host's desired
// state, and a VXLAN network's object on the hosts that share it.
import { randomBytes } from 'node:crypto';
import type { Principal } from '../auth.js';
import type { BindingProfile, CreatePortRequest, UpdatePortRequest } from '../api/port-requests.js';
import { BadRequestError, ConflictError, IpAddressInUseError, MacAddressInUseError, NotFoundError, OverQuotaError, PoolExhaustedError } from '../errors.js';
import { requireBinder, requireOwnerChoice, seesAllPorts, withoutBinding } from '../policy.js';
import { netnsAllowed } from '../../state/netns-allow.js';
import { firstSubnetPerFamily, publicAddresses, requestedSubnet, takeFirstFree, type PortOwner, type PortSpec } from './port-addresses.js';
import type { HostChanges } from '../host-changes.js';
import type { FixedIpRow, NetworkRow, PortRow, SubnetRow } from '../rows.js';
import { portView } from '../rows.js';
import { now, type Body, type ServiceCore } from '../service-core.js';
import type { NewPort, StoreTx } from '../store.js';
import { HEX } from './networks.js';
import { plugProfileJson, portPlug, type BindingProfileDoc } from '../port-plug.js';

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

export type { PortOwner, PortSpec } from './port-addresses.js';

export class Ports {
  constructor(private readonly core: ServiceCore) {}

  list(p: Principal, filter: { device_id?: string; network_id?: string; mac_address?: string; host?: string } = {}): Promise<Body[]> {
    // filtering by an attribute one cannot see would reveal it
    if (filter.host !== undefined) requireBinder(p, 'binding:host_id', 'get_port');
    return this.core.store.read(async (r) => {
      // binders (the only ones who may filter by host) see every port
      let rows = filter.host !== undefined ? (await r.hostPorts(filter.host)).filter((x) => x.host === filter.host) : await r.ports(seesAllPorts(p) ? undefined : p.project);
      if (filter.device_id) rows = rows.filter((x) => x.device_id === filter.device_id);
      if (filter.network_id) rows = rows.filter((x) => String(x.network_id) === filter.network_id);
      const mac = filter.mac_address?.toLowerCase();
      if (mac) rows = rows.filter((x) => x.mac === mac);
      const ips = await r.fixedIpsOf(rows.map((x) => x.id));
      return rows.map((x) => withoutBinding(p, portView(x, ips.get(x.id) ?? [])));
    });
  }

  get(p: Principal, id: string): Promise<Body> {
    return this.core.store.read(async (r) => withoutBinding(p, await this.core.portBody(r, await this.core.port(r, p, id))));
  }

  create(p: Principal, req: CreatePortRequest): Promise<Body> {
    // the policy first: a refused attribute is refused whatever else the request holds
    if (req.host !== undefined) requireBinder(p, 'binding:host_id', 'create_port');
    if (req.profile !== undefined) {
      requireBinder(p, 'binding:profile', 'create_port');
      this.checkProfile(req.profile);
      if (req.profile.migrating_to !== undefined) throw new BadRequestError('binding:profile.migrating_to', 'a new port has no VM to migrate; set it with PUT on the bound port when the live migration starts');
    }
    const project = req.project ?? p.project;
    if (req.project !== undefined) {
      requireOwnerChoice(p, req.project);
      if (!this.core.cfg.users.some((u) => u.project === req.project)) throw new NotFoundError('Project', req.project);
    }
    const owner: PortOwner = { project, admin: p.admin };
    return this.core.mutate(async (tx, changes) => {
      // the network as the owning project sees it (the VM manager acts for that project)
      const n = await this.core.network(tx, { ...p, project }, req.networkId);
      // without binding:host_id (which only binders may send), a NIC added to a device joins the
      // host where the VM manager put the device's other NICs
      const host = req.host !== undefined ? req.host : req.deviceId ? await tx.deviceHost(req.deviceId, project) : null;
      if (host !== null) await this.refuseSharedNamespace(tx, project, req.deviceId, req.profile ?? {});
      if (host !== null) await this.refuseTakenIfname(tx, host, req.profile ?? {}, undefined);
      const joined = await this.core.joinsVxlan(tx, n, host);
      const created = await this.insert(tx, owner, n, { ...req, host, profile: req.profile ?? {}, firewall: req.firewall ?? 'DISABLED' });
      await this.core.portAdded(tx, changes, n, host, created.row.id, joined);
      return withoutBinding(p, portView(created.row, created.ips));
    });
  }

  /**
   * A port bound as a veth into a namespace derived from the device id alone (a netnsTemplate
   * without {project}) must not land in a namespace another project's device of that id uses.
   */
  private async refuseSharedNamespace(tx: StoreTx, project: string | null, deviceId: string, profile: BindingProfileDoc): Promise<void> {
    const plug = portPlug(this.core.cfg, project, deviceId, profile);
    if (!plug.sharedByDeviceId) return;
    if ((await tx.deviceProjects(deviceId)).some((x) => x !== project)) {
      throw new ConflictError(`device_id '${deviceId}' would put this port into namespace ${String(plug.netns)}, which a device of that id in another project uses (portBinding.netnsTemplate has no {project})`);
    }
  }

  /** Two ports of one host cannot name the same device (the agent would refuse the second). */
  private async refuseTakenIfname(tx: StoreTx, host: string, profile: BindingProfileDoc, self: number | undefined): Promise<void> {
    if (profile.ifname === undefined) return;
    for (const other of await tx.hostPorts(host)) {
      if (other.id === self) continue;
      const theirs = JSON.parse(other.profile) as BindingProfileDoc;
      if (theirs.ifname === profile.ifname) throw new ConflictError(`binding:profile.ifname '${profile.ifname}' is already the device of port ${other.id} on host ${host}; unbind that port first`);
    }
  }

  /** A veth profile may name only a namespace of the controller's allow-list (bindingProfile.netnsAllowed). */
  private checkProfile(profile: BindingProfile): void {
    if (profile.netns === undefined) return;
    const allowed = this.core.cfg.bindingProfile.netnsAllowed;
    if (!netnsAllowed(allowed, profile.netns)) throw new BadRequestError('binding:profile.netns', `'${profile.netns}' is not in the controller's bindingProfile.netnsAllowed (${allowed.length ? allowed.join(', ') : 'empty: no namespace may be named'})`);
  }

  /** Inserts a port with its addresses in `tx`; the row and addresses as stored (no read-back). */
  async insert(tx: StoreTx, owner: PortOwner, n: NetworkRow, spec: PortSpec): Promise<{ row: PortRow; ips: FixedIpRow[] }> {
    const q = this.core.cfg.quotas;
    const { deviceId, host } = spec;
    // devices belong to projects: another project's ports never count against this device
    const mine = deviceId ? await tx.devicePorts(deviceId, owner.project) : [];
    const newDevice = !!deviceId && !mine.some((x) => x.networkId === n.id);
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
      project: owner.project,
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
    // read before the insert: the network's row stays locked from the insert to the commit
    // (its device count), so the statements in between are what other units on it wait for
    await tx.subnetsOf(n.id);
    const { id, devices } = await tx.insertPort(port);
    // on a private network, a device new to it counts against the per-network device limit; the
    // public network is every project's, and each project's share of it is already bounded by its
    // floating-IP quota: a limit there would let one project use up the others'. Checked on the
    // count the insert left (the unit rolls back when it is over).
    if (devices !== null && n.public === 0 && devices > q.devicesPerNetwork) throw new OverQuotaError('Devices per network', q.devicesPerNetwork - (devices - 1));
    const ips = n.public === 1 ? await publicAddresses(tx, this.core.cfg, owner, n, id, spec.fixedIps) : await this.allocateAddresses(tx, n, id, spec.fixedIps);
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
      migrating_to: null,
      standby_status: null,
      standby_reason: null,
      activating_from: null,
      activating_after: null,
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

  /** A private port's addresses: the requested ones, or the first free of each IP version. */
  private async allocateAddresses(tx: StoreTx, n: NetworkRow, portId: number, requested: PortSpec['fixedIps']): Promise<FixedIpRow[]> {
    const subnets = await tx.subnetsOf(n.id);
    const out: FixedIpRow[] = [];
    const take = async (s: SubnetRow, ip: string): Promise<void> => {
      await tx.insertFixedIp(portId, s.id, ip);
      out.push({ port_id: portId, subnet_id: s.id, ip });
    };
    const takeFirst = async (s: SubnetRow): Promise<void> => {
      out.push({ port_id: portId, subnet_id: s.id, ip: await takeFirstFree(tx, n, s, portId) });
    };
    for (const [i, want] of requested.entries()) {
      const field = `fixed_ips[${i}]`;
      const s = requestedSubnet(subnets, n, want, field);
      if (want.ip_address === undefined) {
        await takeFirst(s);
        continue;
      }
      const ip = want.ip_address;
      if (out.some((o) => o.ip === ip) || (await tx.fixedIpInUse(s.id, ip))) throw new IpAddressInUseError(ip);
      await take(s, ip);
    }
    if (requested.length > 0) return out;
    // one address per IP version, first free in the pools
    for (const s of firstSubnetPerFamily(subnets)) await takeFirst(s);
    return out;
  }

  update(p: Principal, id: string, req: UpdatePortRequest): Promise<Body> {
    if (req.host !== undefined) requireBinder(p, 'binding:host_id', 'update_port');
    if (req.profile !== undefined) {
      requireBinder(p, 'binding:profile', 'update_port');
      this.checkProfile(req.profile);
    }
    return this.core.mutate(async (tx, changes) => {
      const r = await this.core.port(tx, p, id);
      const host = req.host === undefined ? r.host : req.host;
      const firewall = req.firewall ?? r.firewall_profile;
      const profileJson = req.profile === undefined ? r.profile : JSON.stringify(req.profile);
      const profile = JSON.parse(profileJson) as BindingProfileDoc;
      const n = await tx.network(r.network_id);
      if (!n) throw new NotFoundError('Network', String(r.network_id));
      const migratingTo = migrationTarget(profile, host);
      const joined = host !== r.host && (await this.core.joinsVxlan(tx, n, host));
      const standbyJoined = migratingTo !== null && migratingTo !== r.migrating_to && (await this.core.joinsVxlan(tx, n, migratingTo));
      // a new migrating_to alone changes nothing on the port's host
      const replugged = plugProfileJson(profileJson) !== plugProfileJson(r.profile);
      for (const h of [host, migratingTo]) {
        if (h === null || (h === r.host && !replugged) || (h === r.migrating_to && !replugged)) continue;
        await this.refuseSharedNamespace(tx, r.project, r.device_id, profile);
        await this.refuseTakenIfname(tx, h, profile, r.id);
      }
      const rebuild = host !== r.host || firewall !== r.firewall_profile || replugged;
      // A move from one host to another (the switch of a live migration, after the port stood by
      // on its new host, or a VM manager binding it where the VM now runs, as Ganeti's routed NIC
      // script does): the new host keeps it standing by until the old host's agent has applied
      // the generation this change gives it, so the two never route or answer for the VM at once.
      // Unless that agent is gone: then at once.
      const from = switchFrom(r, host) ? await tx.host(r.host as string) : undefined;
      const ordered = from !== undefined && this.core.isAlive(from);
      // A live migration: migrating_to puts the port on the destination too, standing by (its
      // tap made, nothing announced or answered); the host change then moves it there for good.
      await tx.updatePort(r.id, {
        host,
        firewallProfile: firewall,
        name: req.name,
        ...(profileJson !== r.profile ? { profile: profileJson } : {}),
        migratingTo,
        // (the old host's generation once this change is committed: bumped once per write unit);
        // another change during a switch (a firewall profile) leaves it waiting as it was
        activatingFrom: ordered ? from.id : host === r.host ? r.activating_from : null,
        activatingAfter: ordered ? from.generation + 1 : host === r.host ? r.activating_after : null,
        resetStandby: rebuild || migratingTo !== r.migrating_to,
        rebuild,
        at: now(),
      });
      const row = await tx.port(r.id);
      if (!row) throw new NotFoundError('Port', id);
      if (host !== r.host) await this.core.portLeft(tx, changes, r);
      if (r.migrating_to !== null && r.migrating_to !== migratingTo && r.migrating_to !== host) await this.core.portLeft(tx, changes, { ...r, host: r.migrating_to });
      await this.core.portAdded(tx, changes, n, host, r.id, joined);
      if (migratingTo !== null) await this.core.portAdded(tx, changes, n, migratingTo, r.id, standbyJoined);
      return withoutBinding(p, await this.core.portBody(tx, row));
    });
  }

  /** Deletes a port in `tx`, recording what that changes for its host (and VXLAN peers). */
  async remove(tx: StoreTx, changes: HostChanges, r: PortRow): Promise<void> {
    await tx.deletePort(r.id);
    await this.core.portLeft(tx, changes, r);
    if (r.migrating_to !== null) await this.core.portLeft(tx, changes, { ...r, host: r.migrating_to });
  }

  async delete(p: Principal, id: string): Promise<void> {
    await this.core.mutate(async (tx, changes) => this.remove(tx, changes, await this.core.port(tx, p, id)));
  }
}

/** Where a live migration takes the port (binding:profile.migrating_to), or null. */
function migrationTarget(profile: BindingProfileDoc, host: string | null): string | null {
  const to = profile.migrating_to;
  if (to === undefined || to === host) return null;
  if (host === null) throw new BadRequestError('binding:profile.migrating_to', 'the port is bound to no host: a live migration starts from one (binding:host_id)');
  return to;
}

/** A host change from one host to another (after a live migration's standby there, or not). */
function switchFrom(r: PortRow, host: string | null): boolean {
  return r.host !== null && host !== null && host !== r.host;
}
