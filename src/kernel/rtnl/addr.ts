// Address <-> wire bytes for netlink payloads.
import ipaddr from 'ipaddr.js';

export function addrBytes(address: string): Buffer {
  return Buffer.from(ipaddr.parse(address).toByteArray());
}

export function addrFromBytes(b: Buffer | undefined): string | undefined {
  if (!b || (b.length !== 4 && b.length !== 16)) return undefined;
  return ipaddr.fromByteArray([...b]).toString();
}

export function macBytes(mac: string): Buffer {
  return Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
}

export function macFromBytes(b: Buffer | undefined): string {
  if (!b || b.length !== 6) return '';
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_BRIDGE = 7;

export function afOf(family: 4 | 6): number {
  return family === 4 ? AF_INET : AF_INET6;
}
