// Field schemas shared by the request decoders. Messages are reasons that follow the field
// name: "Invalid input for fixed_ips[0].ip_address. Reason: 'nope' is not an IP address."
import { z } from 'zod';
import { isStrictAddress, isStrictCidr } from '../ipam-rules.js';
import { canonicalCidrOf, normalizeAddress } from '../../util/ip.js';
import { shown } from './decode.js';

const typed = (what: string) => ({ error: (iss: { input?: unknown }) => (iss.input === undefined ? 'is required' : `must be ${what}, not ${iss.input === null ? 'null' : Array.isArray(iss.input) ? 'a list' : typeof iss.input}`) });

export const text = (max: number) => z.string(typed('a string')).max(max, `is longer than ${max} characters`);

export const name = text(255);

/** A resource id in a body (plumb's ids are decimal; anything else is simply not found). */
export const ref = text(64).min(1, 'must not be empty');

export const bool = z.boolean(typed('true or false'));

// Addresses and CIDRs are canonicalized where they enter (docs/api.md, "Canonical forms"): IPv4
// as a dotted quad, IPv6 compressed in lower case, a decimal prefix without leading zeros. Every
// later comparison (duplicates, overlaps, reservations) and every host's desired state sees one
// spelling per address, and the answer shows it.
export const ipAddress = text(64)
  .refine(isStrictAddress, { error: (iss) => `'${shown(iss.input)}' is not an IP address` })
  .transform((a) => normalizeAddress(a));

export const cidr = text(64)
  .refine(isStrictCidr, { error: (iss) => `'${shown(iss.input)}' is not a CIDR (address/prefix-length)` })
  // a strict CIDR always has a canonical form
  .transform((c) => canonicalCidrOf(c) as string);

/** A project id as the config's users name them. */
export const projectId = text(64).min(1, 'must not be empty');

/** Hosts are named by their agents (host ids are subject tokens on the bus). */
export const hostId = text(128).regex(/^[A-Za-z0-9_-]+$/, { error: (iss) => `'${shown(iss.input)}' is not a valid host id (letters, digits, '-' and '_')` });

/**
 * A device id goes into NIC names (nic-<device>-<n>), namespace names and bus subjects: no
 * wildcard, separator or path characters.
 */
export const deviceId = text(128).regex(/^[A-Za-z0-9][A-Za-z0-9_.:@-]*$|^$/, {
  error: (iss) => `'${shown(iss.input)}' is not a valid device id (letters, digits and '_', '.', ':', '@', '-', starting with a letter or digit)`,
});

/** A unicast MAC address. */
export const macAddress = text(17)
  .regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, { error: (iss) => `'${shown(iss.input)}' is not a MAC address (six colon-separated hex octets)` })
  .refine((m) => (parseInt(m.slice(0, 2), 16) & 1) === 0, { error: (iss) => `'${shown(iss.input)}' is a multicast address` })
  .transform((m) => m.toLowerCase());

/** Neutron's admin_state_up: plumb has no administratively-down objects, so only true. */
export const adminUp = bool.refine((v) => v, 'false is not supported: plumb has no administratively down networks or ports');

export const list = <T extends z.ZodType>(item: T, max: number) => z.array(item, typed('a list')).max(max, `holds more than ${max} entries`);

export const object = <T extends z.ZodRawShape>(shape: T) => z.object(shape, typed('an object')).strict();
