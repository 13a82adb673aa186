// Typed kernel objects and the kernel API the reconciler is written against, in the shape of
// vishvananda/netlink: one type per link kind, object+verb methods, a handle bound to one
// network namespace, typed not-found / exists errors (errors.ts).
//
// Everything here is plain data so the reconciler's diff stays pure and testable with a fake.

export type Family = 4 | 6;

interface LinkCommon {
  index: number;
  name: string;
  mtu: number;
  /** IFF_UP administratively set. */
  up: boolean;
  /** IFF_LOWER_UP: the device has carrier (a tap: a VM has it open; a veth: both ends up). */
  carrier: boolean;
  /** Lower-case colon MAC; '' for devices without one. */
  mac: string;
  /** IFLA_IFALIAS; plumb marks what it owns with `plumb:<owner>`. */
  alias: string | undefined;
  /** IFLA_MASTER ifindex (bridge port), undefined when not enslaved. */
  masterIndex: number | undefined;
  /** IFLA_GROUP, the device group (`ip link set dev D group G`); 0 is the default group. */
  devGroup: number;
}

export interface BridgeLink extends LinkCommon {
  kind: 'bridge';
}
export interface VxlanLink extends LinkCommon {
  kind: 'vxlan';
  vni: number;
  /** Local VTEP address (IFLA_VXLAN_LOCAL / LOCAL6). */
  local: string | undefined;
  /** Underlay device ifindex (IFLA_VXLAN_LINK). */
  underlayIndex: number | undefined;
  /** UDP destination port (IFLA_VXLAN_PORT). */
  port: number;
  learning: boolean;
}
export interface VlanLink extends LinkCommon {
  kind: 'vlan';
  vid: number;
  /** IFLA_LINK: the parent (trunk) device. */
  parentIndex: number | undefined;
}
export interface TapLink extends LinkCommon {
  kind: 'tap';
  /** IFLA_TUN_OWNER / GROUP; undefined when unset (-1). */
  owner: number | undefined;
  group: number | undefined;
  persistent: boolean;
  multiQueue: boolean;
  vnetHdr: boolean;
}
export interface VethLink extends LinkCommon {
  kind: 'veth';
  /** IFLA_LINK_NETNSID when the peer lives in another namespace. */
  peerNetnsId: number | undefined;
}
/** Any other device (physical NICs, lo, macvlan, ...): observed, never owned. */
export interface OtherLink extends LinkCommon {
  kind: 'other';
  /** IFLA_INFO_KIND, e.g. 'macvlan', or '' for devices without rtnl link ops (physical). */
  infoKind: string;
}

export type Link = BridgeLink | VxlanLink | VlanLink | TapLink | VethLink | OtherLink;

/**
 * Optional for any new device: its master and admin state, set in the same request that sets its
 * alias right after creation (a new port then needs no separate `ip link set master up`).
 */
export interface LinkAttach {
  /** ifindex of an existing master (bridge) */
  masterIndex?: number;
  up?: boolean;
}

/** What to create. Tap devices are created through /dev/net/tun, the rest over rtnetlink. */
export type LinkSpec = LinkAttach &
  (
    | { kind: 'bridge'; name: string; mtu: number; alias: string }
    | {
        kind: 'vxlan';
        name: string;
        mtu: number;
        alias: string;
        vni: number;
        local: string;
        underlayIndex: number | undefined;
        port: number;
        learning: boolean;
      }
    | { kind: 'vlan'; name: string; mtu: number; alias: string; parentIndex: number; vid: number }
    | {
        kind: 'tap';
        name: string;
        mtu: number;
        alias: string;
        owner: number | undefined;
        group: number | undefined;
        multiQueue: boolean;
        vnetHdr: boolean;
      }
    | {
        kind: 'veth';
        name: string;
        mtu: number;
        alias: string;
        /** MAC of the peer (the VM side). */
        peerMac: string;
        peerName: string;
        /** Named namespace (/run/netns/<name>) the peer is created in directly. */
        peerNetns: string;
      }
  );

/** Attribute changes for an existing link; only the given fields are written. */
export interface LinkChange {
  mtu?: number;
  up?: boolean;
  alias?: string;
  /** ifindex of the new master; null removes the device from its bridge. */
  masterIndex?: number | null;
  /** Device group (IFLA_GROUP); 0 is the default group. */
  group?: number;
  /** New MAC address (IFLA_ADDRESS). */
  address?: string;
}

export interface Route {
  family: Family;
  /** Destination prefix, e.g. `203.0.113.7/32` or `default`-style `0.0.0.0/0`. */
  dst: string;
  table: number;
  /** Output device ifindex. */
  oifIndex: number | undefined;
  gateway: string | undefined;
  /** RTPROT_*; plumb uses its own number to mark ownership. */
  protocol: number;
  scope: 'universe' | 'link' | 'host';
  /** RTN_UNICAST etc.; only unicast routes are managed. */
  type: 'unicast' | 'local' | 'broadcast' | 'other';
  metric: number;
}

export interface Rule {
  family: Family;
  priority: number;
  /** FRA_IIFNAME. */
  iifName: string | undefined;
  table: number;
  /** FRA_PROTOCOL; plumb marks ownership with its own number (kernel >= 4.17). */
  protocol: number;
}

export type NeighState = 'permanent' | 'noarp' | 'reachable' | 'stale' | 'other';

export interface Neigh {
  family: Family;
  ifIndex: number;
  address: string;
  /** Link-layer address; undefined for proxy entries. */
  lladdr: string | undefined;
  state: NeighState;
  /** NTF_PROXY entry (`ip neigh add proxy`). */
  proxy: boolean;
}

/** A forwarding-database entry on a VXLAN device (`bridge fdb append ... dst REMOTE`). */
export interface FdbEntry {
  ifIndex: number;
  mac: string;
  /** NDA_DST: the remote VTEP. */
  dst: string;
}

export type KernelEventKind = 'link' | 'addr' | 'route' | 'rule' | 'neigh';

export interface KernelEvent {
  kind: KernelEventKind;
  /** true for RTM_DEL* messages. */
  deleted: boolean;
  /** The interface the event concerns, when it has one. */
  ifIndex: number | undefined;
  /** The object as notified (parsed with the dump codecs), when it is one plumb models. */
  object?: KernelObject;
  /** Notifications were lost (receive buffer overflow): anything cached from events must be re-read. */
  lost?: boolean;
}

export type KernelObject =
  | { kind: 'link'; link: Link }
  | { kind: 'route'; route: Route }
  | { kind: 'rule'; rule: Rule }
  | { kind: 'neigh'; neigh: Neigh }
  | { kind: 'fdb'; fdb: FdbEntry };

/**
 * A kernel handle bound to one network namespace. Every method is one rtnetlink request (or
 * dump) unless noted; no process is spawned. Writes reject with the typed errors of errors.ts.
 */
export interface KernelHandle {
  /** `ip link show` */
  linkList(): Promise<Link[]>;
  /** `ip link add NAME type KIND ...` (taps: TUNSETIFF+TUNSETOWNER+TUNSETPERSIST). Created down. */
  linkAdd(spec: LinkSpec): Promise<void>;
  /** `ip link set dev INDEX mtu M up alias A master B | nomaster` */
  linkSet(index: number, change: LinkChange): Promise<void>;
  /** `ip link del dev INDEX` */
  linkDel(index: number): Promise<void>;
  /**
   * `ip link del group GROUP`: every device of the group, in one unregistration (one set of RCU
   * grace periods for all of them). Rejects with NotFoundError when the group is empty.
   */
  linkDelGroup(group: number): Promise<void>;

  /** `ip route show table all` (both families). */
  routeList(): Promise<Route[]>;
  /** `ip route replace ...` */
  routeReplace(route: Route): Promise<void>;
  /** `ip route del ...` */
  routeDel(route: Route): Promise<void>;

  /** `ip rule show` (both families). */
  ruleList(): Promise<Rule[]>;
  /** `ip rule add priority P iif NAME table T protocol X` */
  ruleAdd(rule: Rule): Promise<void>;
  /** `ip rule del priority P iif NAME table T` */
  ruleDel(rule: Rule): Promise<void>;

  /** `ip neigh show` plus `ip neigh show proxy` (both families). */
  neighList(): Promise<Neigh[]>;
  /** `ip neigh show proxy` (both families): the kernel sends no notifications for proxy entries. */
  proxyNeighList(): Promise<Neigh[]>;
  /** `ip neigh replace ADDR lladdr MAC dev D nud permanent` / `ip neigh add proxy ADDR dev D` */
  neighReplace(neigh: Neigh): Promise<void>;
  /** `ip neigh del ...` */
  neighDel(neigh: Neigh): Promise<void>;

  /** `bridge fdb show`: every entry with a remote dst (VXLAN devices), in one dump. */
  fdbList(): Promise<FdbEntry[]>;
  /** `bridge fdb append MAC dev D dst REMOTE self permanent` */
  fdbAppend(entry: FdbEntry): Promise<void>;
  /** `bridge fdb del MAC dev D dst REMOTE self` */
  fdbDel(entry: FdbEntry): Promise<void>;

  /** Read /proc/sys/<path> for each path in this namespace (e.g. `net/ipv4/conf/tap1/proxy_arp`); absent files are left out. */
  sysctlGet(paths: readonly string[]): Map<string, string>;
  /** Write /proc/sys/<path> in this namespace. */
  sysctlSet(path: string, value: string): void;

  /** Send a gratuitous ARP (IPv4) or unsolicited NA (IPv6) for `address` out of `ifIndex`. */
  announce(ifIndex: number, address: string, mac: string): Promise<void>;

  /** Subscribe to link/addr/route/rule/neigh notifications; returns an unsubscribe function. */
  subscribe(listener: (event: KernelEvent) => void): () => void;
  /**
   * Resolves once every notification the kernel generated before the call has been delivered
   * to subscribers (a request on the notification socket itself: its reply queues behind them).
   */
  fence(): Promise<void>;

  close(): void;
}
