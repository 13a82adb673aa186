// Policy-routing rule messages.
import type { Rule } from '../types.js';
import { afOf, AF_INET, AF_INET6 } from './addr.js';
import { parseAttrs, readString, readU32, readU8, str, u32, u8 } from './attrs.js';
import { FRA, FR_ACT_TO_TBL } from './constants.js';
import { fibRuleHdr } from './messages.js';

export function parseRule(payload: Buffer): Rule | undefined {
  if (payload.length < 12) return undefined;
  const af = payload.readUInt8(0);
  if (af !== AF_INET && af !== AF_INET6) return undefined;
  const a = parseAttrs(payload.subarray(12));
  return {
    family: af === AF_INET ? 4 : 6,
    priority: readU32(a.get(FRA.PRIORITY)) ?? 0,
    iifName: readString(a.get(FRA.IIFNAME)),
    table: readU32(a.get(FRA.TABLE)) ?? payload.readUInt8(4),
    protocol: readU8(a.get(FRA.PROTOCOL)) ?? 0,
  };
}

export function ruleBody(r: Rule): Buffer {
  const parts: Buffer[] = [u32(FRA.PRIORITY, r.priority), u32(FRA.TABLE, r.table), u8(FRA.PROTOCOL, r.protocol)];
  if (r.iifName) parts.push(str(FRA.IIFNAME, r.iifName));
  return Buffer.concat([fibRuleHdr({ family: afOf(r.family), table: r.table, action: FR_ACT_TO_TBL }), ...parts]);
}
