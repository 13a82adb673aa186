// Set elements in the exact text form `nft -s list` prints, so live and desired compare as strings.
import ipaddr from 'ipaddr.js';
import { BoundedMemo } from '../util/memo.js';

/** Interface names are quoted strings; zod already forbids whitespace, '/' and ':'. */
export function isSafeIfname(name: string): boolean {
  return /^[A-Za-z0-9_.@+=-]{1,15}$/.test(name);
}

export function quoted(ifname: string): string {
  return `"${ifname}"`;
}

export interface AddressForms {
  family: 4 | 6;
  /** IPv4 dotted quad or IPv6 in inet_ntop's compressed form (what nft prints). */
  text: string;
  /** IPv6 only: the raw 128-bit value nft prints for `@th,64,128` (an ND target). */
  ndTarget?: string;
}

// Parsing is the dominant cost of rendering 1,000 ports (~3 µs per ipaddr.parse); addresses
// rarely change between passes, so their printed forms are cached (bounded).
const forms = new BoundedMemo<AddressForms>(200_000);

export function addressForms(address: string): AddressForms {
  return forms.get(address, () => {
    const parsed = ipaddr.parse(address);
    return parsed.kind() === 'ipv4' ? { family: 4, text: parsed.toString() } : { family: 6, text: parsed.toString(), ndTarget: bytesAsHex(parsed.toByteArray()) };
  });
}

function bytesAsHex(bytes: number[]): string {
  const value = bytes.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
  return `0x${value.toString(16)}`;
}

/** The raw 128-bit value nft prints for `@th,64,128` (an ND target address): hex, no leading zeros. */
export function ipv6AsInteger(address: string): string {
  return bytesAsHex(ipaddr.IPv6.parse(address).toByteArray());
}

/** The MAC range a MAC_FILTERED prefix covers, e.g. aa:00:01 -> aa:00:01:00:00:00-aa:00:01:ff:ff:ff. */
export function macPrefixRange(prefix: string): string {
  const octets = prefix.toLowerCase().split(':');
  const pad = (fill: string): string => [...octets, ...Array<string>(6 - octets.length).fill(fill)].join(':');
  return `${pad('00')}-${pad('ff')}`;
}
