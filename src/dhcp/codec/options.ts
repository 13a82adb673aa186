// Encoders for the options plumb hands out, each with the RFC that defines it. Pure.
import { parseCidr } from '../../util/ip.js';

const ip = (a: string): number[] => a.split('.').map(Number);
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const u16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};

export const OPT = {
  SUBNET_MASK: 1, // RFC 2132 3.3
  ROUTER: 3, // RFC 2132 3.5
  DNS: 6, // RFC 2132 3.8
  HOSTNAME: 12, // RFC 2132 3.14
  DOMAIN: 15, // RFC 2132 3.17
  MTU: 26, // RFC 2132 5.1 (interface MTU)
  BROADCAST: 28, // RFC 2132 5.3
  REQUESTED_IP: 50, // RFC 2132 9.1
  LEASE_TIME: 51, // RFC 2132 9.2
  MESSAGE_TYPE: 53, // RFC 2132 9.6
  SERVER_ID: 54, // RFC 2132 9.7
  PARAM_REQUEST: 55, // RFC 2132 9.8
  RENEWAL_T1: 58, // RFC 2132 9.11
  REBINDING_T2: 59, // RFC 2132 9.12
  CLIENT_ID: 61, // RFC 2132 9.14
  DOMAIN_SEARCH: 119, // RFC 3397
  CLASSLESS_ROUTES: 121, // RFC 3442
} as const;

export const addressOption = (a: string): Buffer => Buffer.from(ip(a));
export const addressListOption = (as: string[]): Buffer => Buffer.from(as.flatMap(ip));
export const stringOption = (s: string): Buffer => Buffer.from(s, 'ascii');
export const u32Option = u32;
export const u16Option = u16;

/** RFC 3397: the domain search list in DNS wire format (uncompressed labels). */
export function domainSearchOption(domains: string[]): Buffer {
  const parts: Buffer[] = [];
  for (const d of domains) {
    for (const label of d.replace(/\.$/, '').split('.')) {
      const l = Buffer.from(label, 'ascii').subarray(0, 63);
      parts.push(Buffer.from([l.length]), l);
    }
    parts.push(Buffer.from([0]));
  }
  return Buffer.concat(parts);
}

/** RFC 3442: destination as (width, significant octets), then router. */
export function classlessRoutesOption(routes: { destination: string; nexthop: string }[]): Buffer {
  const parts: number[] = [];
  for (const r of routes) {
    const { address, prefix } = parseCidr(r.destination);
    parts.push(prefix, ...ip(address).slice(0, Math.ceil(prefix / 8)), ...ip(r.nexthop));
  }
  return Buffer.from(parts);
}

export function decodeClasslessRoutes(b: Buffer): { destination: string; nexthop: string }[] | undefined {
  const out: { destination: string; nexthop: string }[] = [];
  let i = 0;
  while (i < b.length) {
    const width = b[i] as number;
    if (width > 32) return undefined;
    const sig = Math.ceil(width / 8);
    if (i + 1 + sig + 4 > b.length) return undefined;
    const dst = [0, 0, 0, 0];
    for (let k = 0; k < sig; k++) dst[k] = b[i + 1 + k] as number;
    out.push({ destination: `${dst.join('.')}/${width}`, nexthop: [...b.subarray(i + 1 + sig, i + 5 + sig)].join('.') });
    i += 1 + sig + 4;
  }
  return out;
}
