// Set elements in the exact text form `nft -s list` prints, so live and desired compare as strings.
import ipaddr from 'ipaddr.js';

/** Interface names are quoted strings; zod already forbids whitespace, '/' and ':'. */
export function isSafeIfname(name: string): boolean {
  return /^[A-Za-z0-9_.@+=-]{1,15}$/.test(name);
}

export function quoted(ifname: string): string {
  return `"${ifname}"`;
}

/** IPv4 dotted quad or IPv6 in inet_ntop's compressed form (what nft prints). */
export function addressText(address: string): string {
  return ipaddr.parse(address).toString();
}

/** The raw 128-bit value nft prints for `@th,64,128` (an ND target address): hex, no leading zeros. */
export function ipv6AsInteger(address: string): string {
  const bytes = ipaddr.IPv6.parse(address).toByteArray();
  const value = bytes.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
  return `0x${value.toString(16)}`;
}

/** The MAC range a MAC_FILTERED prefix covers, e.g. aa:00:01 -> aa:00:01:00:00:00-aa:00:01:ff:ff:ff. */
export function macPrefixRange(prefix: string): string {
  const octets = prefix.toLowerCase().split(':');
  const pad = (fill: string): string => [...octets, ...Array<string>(6 - octets.length).fill(fill)].join(':');
  return `${pad('00')}-${pad('ff')}`;
}
