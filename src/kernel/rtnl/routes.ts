// Route messages (both families, any table: tables above 255 travel in RTA_TABLE).
import type { Family, Route } from '../types.js';
import { addrBytes, addrFromBytes, afOf, AF_INET, AF_INET6 } from './addr.js';
import { attr, parseAttrs, readU32, u32 } from './attrs.js';
import { RTA, RTN, RT_SCOPE } from './constants.js';
import { rtmsg } from './messages.js';

export function parseRoute(payload: Buffer): Route | undefined {
  if (payload.length < 12) return undefined;
  const af = payload.readUInt8(0);
  if (af !== AF_INET && af !== AF_INET6) return undefined;
  const family: Family = af === AF_INET ? 4 : 6;
  const dstLen = payload.readUInt8(1);
  const a = parseAttrs(payload.subarray(12));
  const dstAddr = addrFromBytes(a.get(RTA.DST)) ?? (family === 4 ? '0.0.0.0' : '::');
  const scopeNum = payload.readUInt8(6);
  const typeNum = payload.readUInt8(7);
  return {
    family,
    dst: `${dstAddr}/${dstLen}`,
    table: readU32(a.get(RTA.TABLE)) ?? payload.readUInt8(4),
    oifIndex: readU32(a.get(RTA.OIF)),
    gateway: addrFromBytes(a.get(RTA.GATEWAY)),
    protocol: payload.readUInt8(5),
    scope: scopeNum === RT_SCOPE.link ? 'link' : scopeNum === RT_SCOPE.host ? 'host' : 'universe',
    type: typeNum === RTN.UNICAST ? 'unicast' : typeNum === RTN.LOCAL ? 'local' : typeNum === RTN.BROADCAST ? 'broadcast' : 'other',
    metric: readU32(a.get(RTA.PRIORITY)) ?? 0,
  };
}

export function routeBody(r: Route): Buffer {
  const [addr, len] = r.dst.split('/');
  const dstLen = Number(len);
  const parts: Buffer[] = [u32(RTA.TABLE, r.table)];
  if (dstLen > 0 && addr) parts.push(attr(RTA.DST, addrBytes(addr)));
  if (r.oifIndex !== undefined) parts.push(u32(RTA.OIF, r.oifIndex));
  if (r.gateway) parts.push(attr(RTA.GATEWAY, addrBytes(r.gateway)));
  if (r.metric) parts.push(u32(RTA.PRIORITY, r.metric));
  const hdr = rtmsg({ family: afOf(r.family), dstLen, table: r.table, protocol: r.protocol, scope: RT_SCOPE[r.scope], type: RTN.UNICAST });
  return Buffer.concat([hdr, ...parts]);
}
