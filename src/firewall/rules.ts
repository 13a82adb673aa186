// The fixed rules of plumb's tables, written exactly as `nft -s list` prints them (see spec.ts).
// Rules never name a port: every per-port fact lives in a set or map keyed by interface name, so
// the rule count is constant and a port change is a few element updates.

/**
 * Bits of the packet mark the bridge table sets on frames leaving through a port with a firewall
 * profile, so the inet forward chain (reached through br_netfilter) knows which profile applies:
 * the bridge family has no conntrack on this kernel, the inet family does.
 */
export const MARK_MASK = 0x00300000;
export const MARK_ENABLED = 0x00100000;
export const MARK_PROTECTED = 0x00200000;
const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

/** Ports from the same set of chains in bridge and inet: the IPv4 / IPv6 source checks. */
export const GUARD_IP4 = [
  // A VM may not answer DHCP: server replies leave from port 67.
  'udp sport 67 counter name "rogue_dhcp4" drop',
  // DHCP discovery and requests before the VM has an address.
  'ip saddr 0.0.0.0 udp sport 68 udp dport 67 accept',
  'iifname . ip saddr != @port_ip4 counter name "spoof_ip4" drop',
  'accept',
];

export const GUARD_IP6 = [
  'icmpv6 type { nd-router-advert, nd-redirect } counter name "rogue_router" drop',
  'udp sport 547 counter name "rogue_dhcp6" drop',
  'icmpv6 type nd-neighbor-advert jump guard_na',
  // Duplicate address detection and MLD reports are sent before any address is valid.
  'ip6 saddr :: icmpv6 type { mld-listener-report, nd-neighbor-solicit, mld2-listener-report } accept',
  // Any link-local source: guests pick EUI-64 or stable-privacy (RFC 7217) link-locals alike.
  'ip6 saddr fe80::/10 accept',
  'iifname . ip6 saddr != @port_ip6 counter name "spoof_ip6" drop',
  'accept',
];

/** Neighbour advertisements may only claim the port's own addresses (or a link-local one). */
export const GUARD_NA = [
  // The target address sits at bits 64-191 of the ICMPv6 header; fe80::/10 is the first 10 bits.
  '@th,64,16 & 0xffc0 == 0xfe80 return',
  'iifname . @th,64,128 @port_nd return',
  'counter name "spoof_nd" drop',
];

export const GUARD_ARP = [
  // Fixed offsets below assume Ethernet/IPv4 ARP; anything else is not ours to pass.
  'arp hlen != 6 counter name "spoof_arp" drop',
  'arp plen != 4 counter name "spoof_arp" drop',
  'iifname . arp saddr ether != @port_mac counter name "spoof_arp" drop',
  // RFC 5227 probes carry sender address 0.0.0.0.
  'arp operation request arp saddr ip 0.0.0.0 accept',
  'iifname . arp saddr ip != @port_ip4 counter name "spoof_arp" drop',
  'accept',
];

export const BRIDGE_PORT_GUARD = [
  'iifname . ether saddr != @port_mac counter name "spoof_mac" drop',
  'ether type arp jump guard_arp',
  'ether type ip jump guard_ip4',
  'ether type ip6 jump guard_ip6',
  // VLAN tags, other ethertypes: a VM port carries ARP, IPv4 and IPv6 only.
  'counter name "spoof_ethertype" drop',
];

export const BRIDGE_FORWARD = [
  // MAC_FILTERED: the source MAC's network prefix must be the network of the port it enters by
  // and of the port it leaves by (the uplink carries every prefix). Broadcast copies included:
  // the bridge runs this hook once per egress port.
  'iifname @mf_members ether saddr . iifname != @mf_allowed counter name "mf_isolation" drop',
  'oifname @mf_members ether saddr . oifname != @mf_allowed counter name "mf_isolation" drop',
  `oifname @prof_enabled meta mark set meta mark | ${hex(MARK_ENABLED)}`,
  `oifname @prof_protected meta mark set meta mark | ${hex(MARK_PROTECTED)}`,
];

export const INET_PORT_GUARD = [
  'iifname . ether saddr != @port_mac counter name "spoof_mac" drop',
  'meta nfproto ipv4 jump guard_ip4',
  'meta nfproto ipv6 jump guard_ip6',
];

export const INET_FORWARD = [
  `meta mark & ${hex(MARK_MASK)} == ${hex(MARK_ENABLED)} jump fw_enabled`,
  `meta mark & ${hex(MARK_MASK)} == ${hex(MARK_PROTECTED)} jump fw_protected`,
  'oifname vmap @routed_profile',
];

/** Inbound to a port with profile ENABLED: replies, ICMP/ICMPv6 (neighbour discovery), DNS. */
export const FW_ENABLED = [
  'ct state established,related accept',
  'meta l4proto { icmp, ipv6-icmp } accept',
  'udp sport 53 accept',
  // Address configuration from plumb's responder or the network's DHCP server.
  'udp sport 67 udp dport 68 accept',
  'udp sport 547 udp dport 546 accept',
  'counter name "fw_drop" drop',
];

export const FW_PROTECTED = ['tcp dport { 22, 3389 } accept', 'goto fw_enabled'];

export const BRIDGE_COUNTERS = [
  'spoof_mac',
  'spoof_ethertype',
  'spoof_arp',
  'spoof_ip4',
  'spoof_ip6',
  'spoof_nd',
  'rogue_dhcp4',
  'rogue_dhcp6',
  'rogue_router',
  'mf_isolation',
];
export const INET_COUNTERS = ['spoof_mac', 'spoof_ip4', 'spoof_ip6', 'spoof_nd', 'rogue_dhcp4', 'rogue_dhcp6', 'rogue_router', 'fw_drop'];
export const ARP_COUNTERS = ['spoof_arp'];

export const HOOK_BRIDGE_PREROUTING = 'type filter hook prerouting priority dstnat; policy accept;';
export const HOOK_BRIDGE_FORWARD = 'type filter hook forward priority filter; policy accept;';
export const HOOK_INET_PREROUTING = 'type filter hook prerouting priority raw; policy accept;';
export const HOOK_INET_FORWARD = 'type filter hook forward priority filter; policy accept;';
export const HOOK_INET_OUTPUT = 'type filter hook output priority filter; policy accept;';
export const HOOK_ARP_INPUT = 'type filter hook input priority filter; policy accept;';
