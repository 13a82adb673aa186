// Link messages: parse RTM_NEWLINK dumps into typed links (one type per kind, as in
// vishvananda/netlink) and build create/change requests.
import type { Link, LinkChange, LinkSpec } from '../types.js';
import { addrBytes, addrFromBytes, macBytes, macFromBytes } from './addr.js';
import { attr, nested, parseAttrs, readString, readU16, readU16be, readU32, readU8, str, u16, u16be, u32, u8 } from './attrs.js';
import { IFF_LOWER_UP, IFF_UP, IFLA, IFLA_INFO, IFLA_TUN, IFLA_VLAN_ID, IFLA_VXLAN, VETH_INFO_PEER } from './constants.js';
import { ifinfomsg } from './messages.js';

const IFF_TUN_TYPE_TAP = 2;

// Only these link attributes are read; skipping the rest (stats, queues, ...) halves dump time.
const LINK_ATTRS: ReadonlySet<number> = new Set([IFLA.ADDRESS, IFLA.IFNAME, IFLA.MTU, IFLA.LINK, IFLA.MASTER, IFLA.LINKINFO, IFLA.IFALIAS, IFLA.GROUP, IFLA.LINK_NETNSID]);

/** RTM_GETLINK dump request asking the kernel to leave statistics out (RTEXT_FILTER_SKIP_STATS). */
export function linkDumpBody(): Buffer {
  return Buffer.concat([ifinfomsg(), u32(IFLA.EXT_MASK, 1 << 3)]);
}

/** Parse one RTM_NEWLINK payload (ifinfomsg + attributes). */
export function parseLink(payload: Buffer): Link | undefined {
  if (payload.length < 16) return undefined;
  const index = payload.readInt32LE(4);
  const flags = payload.readUInt32LE(8);
  const a = parseAttrs(payload.subarray(16), LINK_ATTRS);
  const name = readString(a.get(IFLA.IFNAME));
  if (!name) return undefined;
  const common = {
    index,
    name,
    mtu: readU32(a.get(IFLA.MTU)) ?? 0,
    up: (flags & IFF_UP) !== 0,
    carrier: (flags & IFF_LOWER_UP) !== 0,
    mac: macFromBytes(a.get(IFLA.ADDRESS)),
    alias: readString(a.get(IFLA.IFALIAS)) || undefined,
    masterIndex: readU32(a.get(IFLA.MASTER)) || undefined,
    devGroup: readU32(a.get(IFLA.GROUP)) ?? 0,
  };
  const info = a.get(IFLA.LINKINFO);
  const infoAttrs = info ? parseAttrs(info) : new Map<number, Buffer>();
  const kind = readString(infoAttrs.get(IFLA_INFO.KIND)) ?? '';
  const data = parseAttrs(infoAttrs.get(IFLA_INFO.DATA) ?? Buffer.alloc(0));
  switch (kind) {
    case 'bridge':
      return { ...common, kind: 'bridge' };
    case 'vxlan':
      return {
        ...common,
        kind: 'vxlan',
        vni: readU32(data.get(IFLA_VXLAN.ID)) ?? 0,
        local: addrFromBytes(data.get(IFLA_VXLAN.LOCAL) ?? data.get(IFLA_VXLAN.LOCAL6)),
        underlayIndex: readU32(data.get(IFLA_VXLAN.LINK)) || undefined,
        port: readU16be(data.get(IFLA_VXLAN.PORT)) ?? 0,
        learning: (readU8(data.get(IFLA_VXLAN.LEARNING)) ?? 1) !== 0,
      };
    case 'vlan':
      return { ...common, kind: 'vlan', vid: readU16(data.get(IFLA_VLAN_ID)) ?? 0, parentIndex: readU32(a.get(IFLA.LINK)) || undefined };
    case 'veth':
      return { ...common, kind: 'veth', peerNetnsId: a.has(IFLA.LINK_NETNSID) ? a.get(IFLA.LINK_NETNSID)!.readInt32LE(0) : undefined };
    case 'tun': {
      if (readU8(data.get(IFLA_TUN.TYPE)) !== IFF_TUN_TYPE_TAP) return { ...common, kind: 'other', infoKind: 'tun' };
      const owner = readU32(data.get(IFLA_TUN.OWNER));
      const group = readU32(data.get(IFLA_TUN.GROUP));
      return {
        ...common,
        kind: 'tap',
        owner: owner === undefined || owner === 0xffffffff ? undefined : owner,
        group: group === undefined || group === 0xffffffff ? undefined : group,
        persistent: readU8(data.get(IFLA_TUN.PERSIST)) === 1,
        multiQueue: readU8(data.get(IFLA_TUN.MULTI_QUEUE)) === 1,
        vnetHdr: readU8(data.get(IFLA_TUN.VNET_HDR)) === 1,
      };
    }
    default:
      return { ...common, kind: 'other', infoKind: kind };
  }
}

/** RTM_NEWLINK body creating `spec` (not taps: those go through /dev/net/tun). */
export function linkCreateBody(spec: Exclude<LinkSpec, { kind: 'tap' }>, peerNetnsFd?: number): Buffer {
  const top: Buffer[] = [str(IFLA.IFNAME, spec.name), u32(IFLA.MTU, spec.mtu)];
  let data: Buffer[] = [];
  switch (spec.kind) {
    case 'bridge':
      break;
    case 'vxlan':
      data = [
        u32(IFLA_VXLAN.ID, spec.vni),
        attr(spec.local.includes(':') ? IFLA_VXLAN.LOCAL6 : IFLA_VXLAN.LOCAL, addrBytes(spec.local)),
        u8(IFLA_VXLAN.LEARNING, spec.learning ? 1 : 0),
        u16be(IFLA_VXLAN.PORT, spec.port),
      ];
      if (spec.underlayIndex !== undefined) data.push(u32(IFLA_VXLAN.LINK, spec.underlayIndex));
      break;
    case 'vlan':
      top.push(u32(IFLA.LINK, spec.parentIndex));
      data = [u16(IFLA_VLAN_ID, spec.vid)];
      break;
    case 'veth': {
      if (peerNetnsFd === undefined) throw new Error('veth needs the peer namespace fd');
      const peer = Buffer.concat([
        ifinfomsg(),
        str(IFLA.IFNAME, spec.peerName),
        attr(IFLA.ADDRESS, macBytes(spec.peerMac)),
        u32(IFLA.MTU, spec.mtu),
        u32(IFLA.NET_NS_FD, peerNetnsFd),
      ]);
      data = [attr(VETH_INFO_PEER, peer)];
      break;
    }
  }
  const info: Buffer[] = [str(IFLA_INFO.KIND, spec.kind)];
  if (data.length) info.push(nested(IFLA_INFO.DATA, data));
  top.push(nested(IFLA.LINKINFO, info));
  return Buffer.concat([ifinfomsg({ family: 0 }), ...top]);
}

/** RTM_NEWLINK body changing attributes of link `index` (alias is set separately: see handle). */
export function linkChangeBody(index: number, change: LinkChange): Buffer {
  const parts: Buffer[] = [];
  if (change.mtu !== undefined) parts.push(u32(IFLA.MTU, change.mtu));
  if (change.masterIndex !== undefined) parts.push(u32(IFLA.MASTER, change.masterIndex ?? 0));
  if (change.alias !== undefined) parts.push(str(IFLA.IFALIAS, change.alias));
  if (change.group !== undefined) parts.push(u32(IFLA.GROUP, change.group));
  if (change.address !== undefined) parts.push(attr(IFLA.ADDRESS, macBytes(change.address)));
  const up = change.up;
  const hdr = ifinfomsg({ family: 0, index, flags: up ? IFF_UP : 0, change: up === undefined ? 0 : IFF_UP });
  return Buffer.concat([hdr, ...parts]);
}

export function linkIndexBody(index: number): Buffer {
  return ifinfomsg({ index });
}

/**
 * RTM_DELLINK body naming a device group instead of a device (ifindex 0, IFLA_GROUP): the
 * kernel deletes every device of the group in one unregister_netdevice_many (rtnl_group_dellink).
 * Group 0 is refused by the kernel (EPERM): it would be every device.
 */
export function linkGroupBody(group: number): Buffer {
  return Buffer.concat([ifinfomsg({ index: 0 }), u32(IFLA.GROUP, group)]);
}

