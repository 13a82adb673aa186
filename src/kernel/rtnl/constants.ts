// rtnetlink numbers from <linux/rtnetlink.h>, <linux/if_link.h>, <linux/neighbour.h>,
// <linux/fib_rules.h>. Only what plumb uses.
export const NLM_F = { REQUEST: 0x1, ACK: 0x4, REPLACE: 0x100, EXCL: 0x200, CREATE: 0x400, APPEND: 0x800, DUMP: 0x300 } as const;

export const RTM = {
  NEWLINK: 16, DELLINK: 17, GETLINK: 18,
  NEWROUTE: 24, DELROUTE: 25, GETROUTE: 26,
  NEWNEIGH: 28, DELNEIGH: 29, GETNEIGH: 30,
  NEWRULE: 32, DELRULE: 33, GETRULE: 34,
  NEWADDR: 20, DELADDR: 21,
} as const;

export const IFLA = { ADDRESS: 1, IFNAME: 3, MTU: 4, LINK: 5, MASTER: 10, LINKINFO: 18, IFALIAS: 20, GROUP: 27, EXT_MASK: 29, NET_NS_FD: 28, LINK_NETNSID: 37 } as const;
export const IFLA_INFO = { KIND: 1, DATA: 2 } as const;
export const IFLA_VXLAN = { ID: 1, LINK: 3, LOCAL: 4, LEARNING: 7, PORT: 15, LOCAL6: 17 } as const;
export const IFLA_VLAN_ID = 1;
export const VETH_INFO_PEER = 1;
export const IFLA_TUN = { OWNER: 1, GROUP: 2, TYPE: 3, PI: 4, VNET_HDR: 5, PERSIST: 6, MULTI_QUEUE: 7 } as const;
export const IFF_UP = 0x1;
export const IFF_LOWER_UP = 0x10000;

export const RTA = { DST: 1, OIF: 4, GATEWAY: 5, PRIORITY: 6, TABLE: 15 } as const;
export const RT_SCOPE = { universe: 0, link: 253, host: 254 } as const;
export const RTN = { UNICAST: 1, LOCAL: 2, BROADCAST: 3 } as const;

export const FRA = { IIFNAME: 3, PRIORITY: 6, TABLE: 15, PROTOCOL: 21 } as const;
export const FR_ACT_TO_TBL = 1;

export const NDA = { DST: 1, LLADDR: 2 } as const;
export const NUD = { REACHABLE: 0x02, STALE: 0x04, NOARP: 0x40, PERMANENT: 0x80 } as const;
export const NTF = { SELF: 0x02, PROXY: 0x08 } as const;
