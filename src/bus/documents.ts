// A host's desired-state document <-> its per-object KV entries. Pure.
import type { HostStateInput } from '../state/schema.js';
import { InvalidKeyTokenError } from './errors.js';
import { metaKey, networkKey, parseKey, portKey } from './layout.js';

/**
 * key -> JSON text, for one host. An object whose id cannot be a key token is left out and
 * returned in `refused` (one bad object never blocks the others); a bad host id throws.
 */
export function entriesOf(host: string, doc: HostStateInput): Map<string, string> & { refused: InvalidKeyTokenError[] } {
  const out = Object.assign(new Map<string, string>(), { refused: [] as InvalidKeyTokenError[] });
  out.set(metaKey(host), JSON.stringify({ schemaVersion: doc.schemaVersion, generation: doc.generation ?? 0, host: doc.host }));
  const add = (key: () => string, value: unknown): void => {
    try {
      out.set(key(), JSON.stringify(value));
    } catch (err) {
      if (!(err instanceof InvalidKeyTokenError)) throw err;
      out.refused.push(err);
    }
  };
  for (const n of doc.networks ?? []) add(() => networkKey(host, String((n as { id: unknown }).id)), n);
  for (const p of doc.ports ?? []) add(() => portKey(host, String((p as { id: unknown }).id)), p);
  return out;
}

/** Rebuild the document from the entries of one host; undefined until its meta key exists. */
export function documentOf(entries: ReadonlyMap<string, string>): unknown {
  let meta: Record<string, unknown> | undefined;
  const networks: unknown[] = [];
  const ports: unknown[] = [];
  for (const [key, text] of [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const k = parseKey(key);
    if (!k) continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      // an unreadable object is passed on as such: validation rejects it by field and reason
      value = { unreadable: text.slice(0, 80) };
    }
    if (k.kind === 'meta') meta = value as Record<string, unknown>;
    else if (k.kind === 'net') networks.push(value);
    else ports.push(value);
  }
  if (!meta) return undefined;
  return { ...meta, networks, ports };
}
