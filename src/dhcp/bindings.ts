// Port MAC -> what its DHCP client must get, from the host's desired state. Pure.
import type { HostState, Network, Port } from '../state/schema.js';
import { portIfname } from '../state/names.js';
import { cidrContains, family, ipv4Netmask, parseCidr } from '../util/ip.js';
import ipaddr from 'ipaddr.js';

export interface Binding {
  ifname: string;
  portId: string;
  mac: string;
  ip: string;
  prefix: number;
  mask: string;
  broadcast: string;
  gateway: string | undefined;
  /** Option 54: the gateway, or the subnet's last host address when it has none. */
  serverId: string;
  dns: string[];
  domain: string | undefined;
  searchDomains: string[];
  hostname: string | undefined;
  mtu: number;
  routes: { destination: string; nexthop: string }[];
  leaseSeconds: number;
}

export interface BindingTable {
  byIfname: Map<string, Binding>;
  /** Every MAC plumb serves, to tell an unknown MAC from a known one on the wrong port. */
  macs: Set<string>;
  /** Every port interface (with or without DHCP): frames seen elsewhere (a bridge) are not ours. */
  ports: Set<string>;
}

// Bindings are kept per (validated port, network) object: validation hands out the same objects
// for unchanged entries, so rebuilding the table after a one-port change computes one binding.
const perPort = new WeakMap<Port, { net: Network; binding: Binding | undefined }>();

export function buildBindings(state: HostState): BindingTable {
  const byIfname = new Map<string, Binding>();
  const macs = new Set<string>();
  const ports = new Set(state.ports.map((p) => portIfname(p)));
  const nets = new Map(state.networks.map((n) => [n.id, n]));
  for (const port of state.ports) {
    const net = nets.get(port.network);
    // a live migration's destination answers nothing until the port is moved here
    if (!net || port.standby) continue;
    let kept = perPort.get(port);
    if (!kept || kept.net !== net) perPort.set(port, (kept = { net, binding: bindingOf(port, net) }));
    if (!kept.binding) continue;
    macs.add(port.mac);
    byIfname.set(kept.binding.ifname, kept.binding);
  }
  return { byIfname, macs, ports };
}

function bindingOf(port: Port, net: Network): Binding | undefined {
  const ip = port.addresses.find((a) => family(a) === 4);
  if (!ip) return undefined;
  const subnet = net.subnets.find((s) => s.dhcp && cidrContains(s.cidr, ip));
  if (!subnet) return undefined;
  const { prefix } = parseCidr(subnet.cidr);
  const bcast = ipaddr.IPv4.broadcastAddressFromCIDR(subnet.cidr).toString();
  const lastHost = ipaddr.fromByteArray(ipaddr.parse(bcast).toByteArray().map((b, i) => (i === 3 ? b - 1 : b))).toString();
  return {
    ifname: portIfname(port),
    portId: port.id,
    mac: port.mac,
    ip,
    prefix,
    mask: ipv4Netmask(prefix),
    broadcast: bcast,
    gateway: subnet.gateway,
    serverId: subnet.gateway ?? lastHost,
    dns: subnet.dns.filter((d) => family(d) === 4),
    domain: net.domain,
    searchDomains: subnet.searchDomains,
    hostname: port.hostname,
    mtu: net.mtu,
    routes: subnet.routes,
    leaseSeconds: subnet.leaseSeconds,
  };
}
