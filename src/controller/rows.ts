// Row types of the store and their Neutron v2.0 representations.
export interface NetworkRow {
  id: number;
  name: string;
  project: string | null;
  type: string;
  public: number;
  segment: number | null;
  mac_prefix: string | null;
  uplink: string | null;
  routing_table: number | null;
  admin_state_up: number;
  shared: number;
  /** distinct devices with ports on the network (kept by the store) */
  devices: number;
  created: string;
  updated: string;
}

export interface SubnetRow {
  id: number;
  network_id: number;
  project: string | null;
  name: string;
  cidr: string;
  ip_version: number;
  gateway: string | null;
  pools: string;
  dns: string;
  enable_dhcp: number;
  host_routes: string;
}

export interface PortRow {
  id: number;
  network_id: number;
  project: string | null;
  name: string;
  device_id: string;
  device_owner: string;
  nic_index: number | null;
  mac: string;
  host: string | null;
  status: string;
  status_reason: string | null;
  /** the destination of a live migration in progress, where the port stands by */
  migrating_to: string | null;
  standby_status: string | null;
  standby_reason: string | null;
  /** the old host of a switch in progress: the port stands by here until that host applied `activating_after` */
  activating_from: string | null;
  activating_after: number | null;
  revision: number;
  profile: string;
  firewall_profile: string;
  created: string;
  updated: string;
}

export interface FixedIpRow {
  port_id: number;
  subnet_id: number;
  ip: string;
}

export interface FloatingIpRow {
  id: number;
  project: string;
  network_id: number;
  subnet_id: number;
  ip: string;
  port_id: number | null;
  /** 1: taken by a port on the public network without reservation; deleted with that port */
  with_port: number;
  created: string;
}

export interface HostRow {
  id: string;
  underlay: string | null;
  version: string | null;
  last_seen: string | null;
  generation: number;
}

export function networkView(n: NetworkRow, subnets: number[]): Record<string, unknown> {
  return {
    id: String(n.id),
    name: n.name,
    status: 'ACTIVE',
    admin_state_up: n.admin_state_up === 1,
    shared: n.shared === 1 || n.public === 1,
    'router:external': n.public === 1,
    public: n.public === 1,
    type: n.type,
    'provider:network_type': n.type.toLowerCase(),
    'provider:segmentation_id': n.segment,
    mac_prefix: n.mac_prefix,
    subnets: subnets.map(String),
    tenant_id: n.project ?? '',
    project_id: n.project ?? '',
    mtu: 1500,
    created_at: n.created,
    updated_at: n.updated,
  };
}

export function subnetView(s: SubnetRow): Record<string, unknown> {
  return {
    id: String(s.id),
    network_id: String(s.network_id),
    name: s.name,
    cidr: s.cidr,
    ip_version: s.ip_version,
    gateway_ip: s.gateway,
    allocation_pools: JSON.parse(s.pools) as unknown,
    dns_nameservers: JSON.parse(s.dns) as unknown,
    enable_dhcp: s.enable_dhcp === 1,
    host_routes: JSON.parse(s.host_routes) as unknown,
    tenant_id: s.project ?? '',
    project_id: s.project ?? '',
  };
}

export function portView(p: PortRow, ips: FixedIpRow[]): Record<string, unknown> {
  return {
    id: String(p.id),
    name: p.name,
    network_id: String(p.network_id),
    device_id: p.device_id,
    device_owner: p.device_owner,
    mac_address: p.mac,
    fixed_ips: ips.map((f) => ({ subnet_id: String(f.subnet_id), ip_address: f.ip })),
    'binding:host_id': p.host ?? '',
    'binding:profile': JSON.parse(p.profile) as unknown,
    // the destination's readiness during a live migration: ACTIVE once its tap is in place
    'binding:migration': p.migrating_to === null ? null : { host: p.migrating_to, status: p.standby_status ?? 'BUILD', status_reason: p.standby_reason },
    status: p.status,
    status_reason: p.status_reason,
    admin_state_up: true,
    firewall_profile: p.firewall_profile,
    security_groups: [],
    tenant_id: p.project ?? '',
    project_id: p.project ?? '',
    created_at: p.created,
    updated_at: p.updated,
  };
}

export function floatingIpView(f: FloatingIpRow, fixed: string | undefined, deviceId: string | undefined): Record<string, unknown> {
  return {
    id: String(f.id),
    floating_ip_address: f.ip,
    floating_network_id: String(f.network_id),
    port_id: f.port_id === null ? null : String(f.port_id),
    fixed_ip_address: fixed ?? null,
    instance_id: deviceId ?? null,
    router_id: null,
    status: f.port_id === null ? 'DOWN' : 'ACTIVE',
    tenant_id: f.project,
    project_id: f.project,
    created_at: f.created,
  };
}
