// Kernel interface names derived from object ids. Names are keyed by plumb's ids, never by the
// kernel's reusable tapN numbering, so a restarted agent finds exactly the device it made.
import { BoundedMemo } from '../util/memo.js';
import type { HostState, Network, Port } from './schema.js';

// Names are derived for every port several times a pass (validation, kernel model, firewall,
// DHCP): the usual 11-character tags are kept per id instead of running the regex each time.
const tags11 = new BoundedMemo<string>(200_000);
const tagOf = (id: string, max: number): string => id.replace(/[^A-Za-z0-9_-]/g, '').slice(0, max);

/** `id` itself when short and safe, else its first `max` safe characters (Neutron's tap<id[:11]>). */
export function nameTag(id: string, max: number): string {
  return max === 11 ? tags11.get(id, () => tagOf(id, 11)) : tagOf(id, max);
}

export function bridgeName(network: Network, host: HostState['host']): string {
  switch (network.type) {
    case 'CUSTOM':
      return network.bridge;
    case 'MAC_FILTERED':
      return host.macFiltered.bridge;
    case 'IP_LESS_ROUTED':
      return ''; // routed networks have no bridge
    default:
      return `pbr-${nameTag(network.id, 11)}`;
  }
}

export function vxlanName(networkId: string): string {
  return `pvx-${nameTag(networkId, 11)}`;
}

/** The shared MAC_FILTERED bridge's own VXLAN segment, when configured. */
export const MAC_FILTERED_VXLAN_NAME = 'pvx-macfilter';

export function vlanName(uplink: string, vid: number): string {
  return `${uplink}.${vid}`;
}

/**
 * The MAC of the host side of a routed port (its tap or veth): the VM's MAC with a first octet
 * of fe, libvirt's own rule for taps it makes. The VM's gateway is answered by proxy ARP/NDP
 * from this address, so it must be the same on every host: after a live migration the VM's
 * neighbour entry for its gateway (and its IPv6 router's link-local, EUI-64 of this MAC) still
 * points at a device that receives what it sends.
 */
export function hostSideMac(vmMac: string): string {
  return `fe${vmMac.slice(2).toLowerCase()}`;
}

export function portIfname(port: Pick<Port, 'id' | 'kind' | 'ifname'>): string {
  if (port.ifname) return port.ifname;
  return port.kind === 'tap' ? `tap${nameTag(port.id, 11)}` : `veth${nameTag(port.id, 11)}`;
}
