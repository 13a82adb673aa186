// The controller's store interface: the typed operations the service needs, and nothing of SQL.
// SQLite (sqlite-store.ts) is the embedded default; docs/controller-store.md says what another
// implementation (PostgreSQL, for several controllers) must provide.
//
// Semantics every implementation must keep:
// - `write(fn)` runs fn as ONE atomic unit: either everything it did is committed or nothing is.
//   Write units are serializable with respect to each other (an allocation that checked an address
//   or a count as free/below the limit still sees it that way when it commits). The promise
//   resolves only after the commit; it rejects with fn's error (nothing applied) or a store error.
//   fn may be run more than once (e.g. after a serialization failure), so it must have no effects
//   outside `tx`.
// - `read(fn)` sees committed data only (never a half-done write unit), as one consistent snapshot.
// - The unique constraints are the last line of defence: (subnet, address) over fixed and floating
//   addresses, MAC addresses, (type, segment), private CIDRs, MAC prefixes.
// - So are the IPAM invariants (ipam-rules.ts), which the store holds itself and refuses with a
//   StoreInvariantError (store-errors.ts): no two subnets of a network overlap, nor two subnets
//   of the public networks; allocation pools lie inside their subnet, start <= end, disjoint,
//   without the gateway, and never change; a subnet that a fixed or floating address uses is
//   not deleted. (SQLite: triggers in db.ts. PostgreSQL: an exclusion constraint over inet
//   ranges per network, CHECKs on pools, and foreign keys from both address tables.)
import type { HostChange } from '../state/controller-hooks.js';
import type { FixedIpRow, FloatingIpRow, HostRow, NetworkRow, PortRow, SubnetRow } from './rows.js';

export interface NewNetwork {
  name: string;
  /** null for public networks (from the controller config) */
  project: string | null;
  type: string;
  public: boolean;
  segment: number | null;
  uplink: string | null;
  routingTable: number | null;
  /** MAC_FILTERED: the network's MAC prefix, a free one from the pool (usedMacPrefixes) */
  macPrefix?: string;
  at: string;
}

export interface NewSubnet {
  networkId: number;
  project: string | null;
  name: string;
  cidr: string;
  ipVersion: number;
  gateway: string | null;
  /** JSON arrays, as stored and shown */
  pools: string;
  dns: string;
  enableDhcp: boolean;
  hostRoutes: string;
}

export interface InsertedPort {
  id: number;
  /** the network's distinct devices, this port's counted, when its device is new there; else null */
  devices: number | null;
}

export interface NewPort {
  networkId: number;
  /** the device has no other port on this network yet (the network's device count grows) */
  newDevice: boolean;
  project: string | null;
  name: string;
  deviceId: string;
  deviceOwner: string;
  nicIndex: number | null;
  mac: string;
  host: string | null;
  profile: string;
  firewallProfile: string;
  at: string;
}

export type SwitchesToEnd = { appliedBy: string; generation: number } | { waitingSince: string };

export interface PortChange {
  host: string | null;
  firewallProfile: string;
  name: string | undefined;
  /** a new binding profile (JSON); undefined: unchanged */
  profile?: string;
  /** the live-migration destination (null: none) */
  migratingTo: string | null;
  /** the destination must apply the port again: its readiness back to BUILD */
  resetStandby: boolean;
  /** a live migration's switch: the old host, which must first apply generation `activatingAfter` */
  activatingFrom: string | null;
  activatingAfter: number | null;
  /** a new revision that the agent has to realize: status back to BUILD */
  rebuild: boolean;
  at: string;
}

export interface StoreReader {
  // networks
  network(id: number): Promise<NetworkRow | undefined>;
  /** all networks (project undefined), or the public ones and the project's */
  networks(project: string | undefined): Promise<NetworkRow[]>;
  publicNetworkByName(name: string): Promise<NetworkRow | undefined>;
  firstPublicNetwork(): Promise<NetworkRow | undefined>;
  countPrivateNetworks(project: string): Promise<number>;
  /** the MAC prefixes held by networks (MAC_FILTERED) */
  usedMacPrefixes(): Promise<string[]>;
  /** segments (VNIs, VLAN ids) in use by networks of `type` */
  usedSegments(type: string): Promise<number[]>;
  /** the networks and NIC indexes of a device's ports; devices belong to projects (null: public objects) */
  devicePorts(deviceId: string, project: string | null): Promise<{ networkId: number; nicIndex: number | null }[]>;
  // subnets
  subnet(id: number): Promise<SubnetRow | undefined>;
  subnets(): Promise<SubnetRow[]>;
  subnetsOf(networkId: number): Promise<SubnetRow[]>;
  /** CIDRs of private subnets (they must be unique among themselves) */
  privateCidrs(): Promise<string[]>;
  /** the network holding a private subnet with this CIDR */
  privateCidrOwner(cidr: string): Promise<number | undefined>;
  countFixedIpsOfSubnet(subnetId: number): Promise<number>;
  countFloatingIpsOfSubnet(subnetId: number): Promise<number>;
  countSubnets(project: string): Promise<number>;
  // ports
  port(id: number): Promise<PortRow | undefined>;
  ports(project: string | undefined): Promise<PortRow[]>;
  countPortsOfNetwork(networkId: number): Promise<number>;
  countPorts(project: string): Promise<number>;
  macInUse(mac: string): Promise<boolean>;
  /** hosts with ports bound on the network */
  hostsOfNetwork(networkId: number): Promise<string[]>;
  networksOfHost(host: string): Promise<number[]>;
  /** the host has at least one port bound on the network */
  hostHasPortOn(host: string, networkId: number): Promise<boolean>;
  /** the ports bound to the host, by id */
  hostPorts(host: string): Promise<PortRow[]>;
  /** Whether a live-migration switch waits on `host` (or on any host): lets the hot report path skip a write. */
  switchesWaiting(host?: string): Promise<boolean>;
  /** the fixed addresses of the host's ports, per port in allocation order */
  fixedIpsOfHost(host: string): Promise<Map<number, FixedIpRow[]>>;
  /** the underlay addresses (VTEPs) of the other hosts with ports on the network */
  vteps(networkId: number, exceptHost: string): Promise<string[]>;
  /** ports counted by status */
  portsByStatus(): Promise<Record<string, number>>;
  /** the host of one of the device's bound ports (within the project, unless undefined) */
  deviceHost(deviceId: string, project: string | undefined): Promise<string | null>;
  /** the projects with bound ports of this device id (null: public objects) */
  deviceProjects(deviceId: string): Promise<(string | null)[]>;
  fixedIps(portId: number): Promise<FixedIpRow[]>;
  fixedIpsOf(portIds: number[]): Promise<Map<number, FixedIpRow[]>>;
  fixedIpInUse(subnetId: number, ip: string): Promise<boolean>;
  // floating IPs
  floatingIp(id: number): Promise<FloatingIpRow | undefined>;
  floatingIps(project: string | undefined): Promise<FloatingIpRow[]>;
  floatingIpAt(subnetId: number, ip: string): Promise<FloatingIpRow | undefined>;
  countFloatingIps(project: string): Promise<number>;
  // hosts
  host(id: string): Promise<HostRow | undefined>;
  hosts(): Promise<HostRow[]>;
}

export interface StoreTx extends StoreReader {
  insertNetwork(n: NewNetwork): Promise<number>;
  /** the network and its subnets (the caller checked it has no ports) */
  deleteNetwork(id: number): Promise<void>;
  insertSubnet(s: NewSubnet): Promise<number>;
  deleteSubnet(id: number): Promise<void>;
  /**
   * status BUILD, revision 1; also keeps the network's device count (kept, not counted per call)
   * and returns it when this port's device is new on the network, for the caller to check
   * against the quota: checked after the count has grown in the same statement, the limit holds
   * across controllers without a lock taken earlier in the unit (pg-queries.ts)
   */
  insertPort(p: NewPort): Promise<InsertedPort>;
  updatePort(id: number, c: PortChange): Promise<void>;
  /** deletes its withPort floating IPs and detaches the others, frees its fixed addresses, keeps the device count */
  deletePort(id: number): Promise<void>;
  /**
   * The first address of the subnet's allocation pools (not its gateway) used by no fixed or
   * floating IP, or undefined when the pools are full. Exact: the lowest free one.
   */
  firstFreeAddress(subnet: SubnetRow): Promise<string | undefined>;
  insertFixedIp(portId: number, subnetId: number, ip: string): Promise<void>;
  /** firstFreeAddress and insertFixedIp for `portId` in one step; undefined when the pools are full */
  takeFirstFree(subnet: SubnetRow, portId: number): Promise<string | undefined>;
  /**
   * withPort: the address a port took on a public network without a reserved floating IP; it is
   * attached to that port and deleted with it (a reserved one is only detached).
   */
  insertFloatingIp(f: { project: string; networkId: number; subnetId: number; ip: string; at: string; withPort?: number }): Promise<number>;
  /** attach or detach; either way the floating IP is the project's to keep (no longer withPort) */
  setFloatingIpPort(id: number, portId: number | null): Promise<void>;
  deleteFloatingIp(id: number): Promise<void>;
  /** the hosts' desired state changed: generation + 1 (registering unknown hosts) */
  bumpGenerations(hosts: string[]): Promise<void>;
  upsertHost(h: { id: string; underlay: string | null; version: string; lastSeen: string }): Promise<void>;
  /** an agent's report; ignored unless the port is on that host at that revision */
  setPortStatus(r: { host: string; portId: number; status: string; reason: string | null; revision: number; at: string }): Promise<void>;
  /**
   * Ends live-migration switches: those whose old host has applied `generation`, or those waiting
   * since before `olderThan` whatever their old host did. The ports become their new host's own
   * (a new revision, BUILD). Returns them as they are now.
   */
  activatePorts(which: SwitchesToEnd, at: string): Promise<PortRow[]>;
  /**
   * Tells the other controllers sharing the store what this unit changed in hosts' desired state,
   * delivered only if it commits (PostgreSQL: NOTIFY on HOST_CHANGES_CHANNEL, which the publishing
   * controller listens to). A store only one controller uses does nothing here.
   */
  announce(changes: HostChange[]): Promise<void>;
}

export interface ControllerStore {
  read<T>(fn: (r: StoreReader) => Promise<T>): Promise<T>;
  write<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  /** Resolves once every unit submitted before the call has finished (committed or failed). */
  settled(): Promise<void>;
  /** What the store did since start, for the controller's metrics. */
  counters(): StoreCounters;
  close(): Promise<void>;
}

export interface StoreCounters {
  /** units run (read and write) */
  units: number;
  /** statements sent to the database (round trips, for a remote one) */
  statements: number;
  /** write units run again after colliding with a concurrent one */
  retries: number;
}
