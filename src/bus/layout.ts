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
  ports: { id: string; status: 'ACTIVE' | 'ERROR'; reason?: string; revision: number }[];
}

/** Messages on the heartbeat subject. */
export interface HeartbeatMessage {
  underlayAddress?: string;
  version: string;
}
