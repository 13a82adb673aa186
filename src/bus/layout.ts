// Where desired state and reports live on the bus. One KV key per object, so a port change is
// one small message; each host's keys share a prefix that its credentials are limited to.
//
//   KV bucket plumb-desired (allow_direct):  <host>.meta           {schemaVersion, generation, host}
//                                            <host>.net.<network>   one network
//                                            <host>.port.<port>     one port
//   subjects:  plumb.status.<host>      agent -> controller, port status reports
//              plumb.heartbeat.<host>   agent -> controller, liveness + underlay address
import { InvalidKeyTokenError } from './errors.js';

export const BUCKET = 'plumb-desired';
export const STREAM = `KV_${BUCKET}`;

const TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

/** Ids become key tokens verbatim when they are safe; dots and other characters are refused. */
export function token(field: string, value: string): string {
  if (!TOKEN.test(value)) throw new InvalidKeyTokenError(field, value);
  return value;
}

export const metaKey = (host: string): string => `${token('host', host)}.meta`;
export const networkKey = (host: string, id: string): string => `${token('host', host)}.net.${token('network id', id)}`;
export const portKey = (host: string, id: string): string => `${token('host', host)}.port.${token('port id', id)}`;
export const hostPrefix = (host: string): string => `${token('host', host)}.>`;

export const statusSubject = (host: string): string => `plumb.status.${token('host', host)}`;
export const heartbeatSubject = (host: string): string => `plumb.heartbeat.${token('host', host)}`;
export const inboxPrefix = (host: string): string => `_INBOX_${token('host', host)}`;

/** The stream subjects of one host's keys: the only filter its watch consumers may have. */
export const hostSubjects = (host: string): string => `$KV.${BUCKET}.${hostPrefix(host)}`;

/**
 * How many watch consumers a host may have at once, and their names: the server config lists
 * exactly these names, so a host's consumer count is bounded by the names it may use. A new
 * watch takes the next slot while the one it replaces is deleted (or expires).
 */
export const WATCH_SLOTS = 4;
export const watchConsumerName = (host: string, slot: number): string => `w${slot}_${token('host', host)}`;

/**
 * JetStream API subjects a host's watch uses (2.9's create form carries name and filter), as the
 * host publishes them: its account imports each under $PLUMB.API.… because nats-server answers
 * $JS.API.… itself ("JetStream not enabled for account") in an account without JetStream, racing
 * the imported answer. `jsApiSubject` gives the subject in the JetStream account.
 */
export const HOST_API_PREFIX = '$PLUMB.API.';
export const jsApiSubject = (hostSubject: string): string => `$JS.API.${hostSubject.slice(HOST_API_PREFIX.length)}`;
export const consumerCreateSubject = (host: string, slot: number): string => `${HOST_API_PREFIX}CONSUMER.CREATE.${STREAM}.${watchConsumerName(host, slot)}.${hostSubjects(host)}`;
export const consumerNextSubject = (host: string, slot: number): string => `${HOST_API_PREFIX}CONSUMER.MSG.NEXT.${STREAM}.${watchConsumerName(host, slot)}`;
export const consumerDeleteSubject = (host: string, slot: number): string => `${HOST_API_PREFIX}CONSUMER.DELETE.${STREAM}.${watchConsumerName(host, slot)}`;

export type ParsedKey = { host: string; kind: 'meta' } | { host: string; kind: 'net' | 'port'; id: string };

export function parseKey(key: string): ParsedKey | undefined {
  const parts = key.split('.');
  const [host, kind, id] = parts;
  if (!host) return undefined;
  if (parts.length === 2 && kind === 'meta') return { host, kind: 'meta' };
  if (parts.length === 3 && id && (kind === 'net' || kind === 'port')) return { host, kind, id };
  return undefined;
}

/** Messages on the status subject. */
export interface StatusMessage {
  generation: number;
  ports: { id: string; status: 'ACTIVE' | 'DOWN' | 'ERROR'; reason?: string; revision: number }[];
}

/** Messages on the heartbeat subject. */
export interface HeartbeatMessage {
  underlayAddress?: string;
  version: string;
}
