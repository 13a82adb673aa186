// How plumb marks what it owns in the kernel, so it only ever changes or deletes its own
// objects: links carry an alias, routes and rules a dedicated protocol number, rules a fixed
// priority. Anything else (operator bridges, routes, rules) is never touched.
import type { Link, Route, Rule } from '../kernel/types.js';
import { BoundedMemo } from '../util/memo.js';

/** RTPROT value on every route and rule plumb installs (unassigned in /etc/iproute2/rt_protos). */
export const RTPROT_PLUMB = 146;

/** Priority of plumb's `iif <port> lookup <table>` rules. */
export const RULE_PRIORITY = 20000;

/**
 * Device group (IFLA_GROUP) plumb moves the devices it is about to delete into, so that one
 * `RTM_DELLINK` by group (`ip link del group G`) unregisters them all at once: the kernel then
 * waits for its RCU grace periods once for the set instead of once per device (~16 ms a tap).
 * 0x706c6d62 is "plmb" in ASCII: groups are 32-bit, 0 is the default, and operators number
 * theirs from 1 up (/etc/iproute2/group names only 0), so nothing else is expected here.
 * Only execute.ts puts devices in it, and only right before deleting them; it deletes by group
 * only when the group holds exactly those devices, and otherwise one device at a time. A plumb
 * device found in it that is desired again (a crash between the two steps) is put back into
 * group 0 by the diff, in a phase before that pass's own deletions.
 */
export const DELETE_GROUP = 0x706c6d62;

const ALIAS_PREFIX = 'plumb:';
/** A port's tap that the VM manager made: plumb changes it while the port is here, never deletes it. */
const ADOPTED_PREFIX = `${ALIAS_PREFIX}adopted:`;

export type Owner =
  | { kind: 'network'; id: string }
  | { kind: 'port'; id: string }
  /** The shared MAC_FILTERED bridge and its own VXLAN segment. */
  | { kind: 'macfiltered' };

/** The alias of a tap plumb adopted for its port (see Port.tap.adopt); parsed back to that port. */
export function adoptedAlias(port: Extract<Owner, { kind: 'port' }>): string {
  return `${ADOPTED_PREFIX}${port.id}`;
}

/** True for a tap plumb adopted: on the port's removal it is handed back, not deleted. */
export function isAdoptedLink(link: Pick<Link, 'alias'>): boolean {
  return link.alias?.startsWith(ADOPTED_PREFIX) ?? false;
}

export function ownerAlias(owner: Owner): string {
  switch (owner.kind) {
    case 'network':
      return `${ALIAS_PREFIX}net:${owner.id}`;
    case 'port':
      return `${ALIAS_PREFIX}port:${owner.id}`;
    case 'macfiltered':
      return `${ALIAS_PREFIX}macfiltered`;
  }
}

// Parsed once per alias: the diff asks for every link's owner several times a pass.
const parsedAliases = new BoundedMemo<Owner | undefined>(100_000);

function ownerOf(rest: string): Owner | undefined {
  if (rest === 'macfiltered') return { kind: 'macfiltered' };
  if (rest.startsWith('net:')) return { kind: 'network', id: rest.slice(4) };
  if (rest.startsWith('port:')) return { kind: 'port', id: rest.slice(5) };
  if (rest.startsWith('adopted:')) return { kind: 'port', id: rest.slice(8) };
  return undefined;
}

/** The owner an alias names (a shared frozen object), or undefined for a device plumb does not own. */
export function parseOwnerAlias(alias: string | undefined): Owner | undefined {
  if (!alias?.startsWith(ALIAS_PREFIX)) return undefined;
  return parsedAliases.get(alias, () => {
    const owner = ownerOf(alias.slice(ALIAS_PREFIX.length));
    return owner && Object.freeze(owner);
  });
}

export function ownerKey(owner: Owner): string {
  return owner.kind === 'macfiltered' ? 'macfiltered' : `${owner.kind}:${owner.id}`;
}

export function isOwnedLink(link: Link): boolean {
  return parseOwnerAlias(link.alias) !== undefined;
}

export function isOwnedRoute(route: Route): boolean {
  return route.protocol === RTPROT_PLUMB;
}

export function isOwnedRule(rule: Rule): boolean {
  return rule.protocol === RTPROT_PLUMB && rule.priority === RULE_PRIORITY;
}
