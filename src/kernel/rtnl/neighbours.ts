// Neighbour messages: permanent and proxy entries (AF_INET/AF_INET6) and VXLAN FDB entries
// (AF_BRIDGE with NDA_DST = remote VTEP).
import type { FdbEntry, Neigh, NeighState } from '../types.js';
import { addrBytes, addrFromBytes, afOf, macBytes, macFromBytes, AF_BRIDGE, AF_INET, AF_INET6 } from './addr.js';
import { attr, parseAttrs } from './attrs.js';
import { NDA, NTF, NUD } from './constants.js';
import { ndmsg } from './messages.js';

function stateOf(n: number): NeighState {
  if (n & NUD.PERMANENT) return 'permanent';
  if (n & NUD.NOARP) return 'noarp';
  if (n & NUD.REACHABLE) return 'reachable';
  if (n & NUD.STALE) return 'stale';
  return 'other';
}

export function parseNeigh(payload: Buffer): Neigh | undefined {
  if (payload.length < 12) return undefined;
  const af = payload.readUInt8(0);
  if (af !== AF_INET && af !== AF_INET6) return undefined;
  const a = parseAttrs(payload.subarray(12));
  const address = addrFromBytes(a.get(NDA.DST));
  if (!address) return undefined;
  const lladdr = macFromBytes(a.get(NDA.LLADDR));
  return {
    family: af === AF_INET ? 4 : 6,
    ifIndex: payload.readInt32LE(4),
    address,
    lladdr: lladdr || undefined,
    state: stateOf(payload.readUInt16LE(8)),
    proxy: (payload.readUInt8(10) & NTF.PROXY) !== 0,
  };
}

export function neighBody(n: Neigh): Buffer {
  const parts = [attr(NDA.DST, addrBytes(n.address))];
  if (!n.proxy && n.lladdr) parts.push(attr(NDA.LLADDR, macBytes(n.lladdr)));
  const hdr = ndmsg({ family: afOf(n.family), ifindex: n.ifIndex, state: n.proxy ? 0 : NUD.PERMANENT, flags: n.proxy ? NTF.PROXY : 0 });
  return Buffer.concat([hdr, ...parts]);
}

export function parseFdb(payload: Buffer): FdbEntry | undefined {
  if (payload.length < 12 || payload.readUInt8(0) !== AF_BRIDGE) return undefined;
  const a = parseAttrs(payload.subarray(12));
  const dst = addrFromBytes(a.get(NDA.DST));
  if (!dst) return undefined;
  return { ifIndex: payload.readInt32LE(4), mac: macFromBytes(a.get(NDA.LLADDR)), dst };
}

export function fdbBody(e: FdbEntry): Buffer {
  const hdr = ndmsg({ family: AF_BRIDGE, ifindex: e.ifIndex, state: NUD.PERMANENT, flags: NTF.SELF });
  return Buffer.concat([hdr, attr(NDA.LLADDR, macBytes(e.mac)), attr(NDA.DST, addrBytes(e.dst))]);
}

export function dumpBody(family: number, flags = 0): Buffer {
  return ndmsg({ family, ifindex: 0, state: 0, flags });
}
