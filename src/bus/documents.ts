// A host's desired-state document <-> its per-object KV entries. Pure.
import type { HostStateInput } from '../state/schema.js';
import { InvalidKeyTokenError } from './errors.js';
import { metaKey, networkKey, parseKey, portKey } from './layout.js';

type Entries<V> = Map<string, V> & { refused: InvalidKeyTokenError[] };

function entries<V>(): Entries<V> {
  return Object.assign(new Map<string, V>(), { refused: [] as InvalidKeyTokenError[] });
}

const metaText = (doc: Pick<HostStateInput, 'schemaVersion' | 'generation' | 'host'>): string => JSON.stringify({ schemaVersion: doc.schemaVersion, generation: doc.generation ?? 0, host: doc.host });

/** Add one object's entry; an id that cannot be a key token is refused, not thrown. */
function add<V>(out: Entries<V>, key: () => string, value: V): void {
  try {
    out.set(key(), value);
  } catch (err) {
    if (!(err instanceof InvalidKeyTokenError)) throw err;
    out.refused.push(err);
  }
}

/**
 * key -> JSON text, for one host. An object whose id cannot be a key token is left out and
 * returned in `refused` (one bad object never blocks the others); a bad host id throws.
 */
export function entriesOf(host: string, doc: HostStateInput): Entries<string> {
  const out = entries<string>();
  out.set(metaKey(host), metaText(doc));
  for (const n of doc.networks ?? []) add(out, () => networkKey(host, String((n as { id: unknown }).id)), JSON.stringify(n));
  for (const p of doc.ports ?? []) add(out, () => portKey(host, String((p as { id: unknown }).id)), JSON.stringify(p));
  return out;
}

/**
 * The entries of part of a host's document: its meta and the named objects, undefined for an
 * object that is not (or no longer) on the host. The same texts entriesOf gives for them.
 */
export function entriesOfObjects(host: string, objs: { meta: Pick<HostStateInput, 'schemaVersion' | 'generation' | 'host'>; networks: ReadonlyMap<string, unknown>; ports: ReadonlyMap<string, unknown> }): Entries<string | undefined> {
  const out = entries<string | undefined>();
  out.set(metaKey(host), metaText(objs.meta));
  for (const [id, n] of objs.networks) add(out, () => networkKey(host, id), n === undefined ? undefined : JSON.stringify(n));
  for (const [id, p] of objs.ports) add(out, () => portKey(host, id), p === undefined ? undefined : JSON.stringify(p));
  return out;
}

/** Rebuild the document from the entries of one host; undefined until its meta key exists. */
export function documentOf(entries: ReadonlyMap<string, string>): unknown {
  const doc = new HostDocument();
  for (const [key, text] of entries) doc.set(key, text);
  return doc.document();
}

function parseEntry(text: string): unknown {
  try {
    // frozen: the same object is handed out in every later document, and validation may keep
    // results per (immutable) object
    return deepFreeze(JSON.parse(text));
  } catch {
    // an unreadable object is passed on as such: validation rejects it by field and reason
    return { unreadable: text.slice(0, 80) };
  }
}

/**
 * One host's entries as they arrive from a KV watch: each entry is parsed once, when it changes,
 * so rebuilding the document after a one-port change does not re-parse the other thousand.
 */
export class HostDocument {
  private meta: Record<string, unknown> | undefined;
  private readonly networks = new Map<string, unknown>();
  private readonly ports = new Map<string, unknown>();
  /** port id -> when the bus stored its current entry (ms since the epoch), when known. */
  readonly portStoredAt = new Map<string, number>();

  set(key: string, text: string, storedAtMs?: number): void {
    const k = parseKey(key);
    if (!k) return;
    if (k.kind === 'meta') this.meta = parseEntry(text) as Record<string, unknown>;
    else (k.kind === 'net' ? this.networks : this.ports).set(k.id, parseEntry(text));
    if (k.kind === 'port' && storedAtMs !== undefined) this.portStoredAt.set(k.id, storedAtMs);
  }

  delete(key: string): void {
    const k = parseKey(key);
    if (!k) return;
    if (k.kind === 'meta') this.meta = undefined;
    else (k.kind === 'net' ? this.networks : this.ports).delete(k.id);
    if (k.kind === 'port') this.portStoredAt.delete(k.id);
  }

  /** The document in key order; undefined until the meta key exists. */
  document(): unknown {
    if (!this.meta) return undefined;
    return { ...this.meta, networks: sortedValues(this.networks), ports: sortedValues(this.ports) };
  }
}

function sortedValues(m: ReadonlyMap<string, unknown>): unknown[] {
  return [...m.keys()].sort().map((id) => m.get(id));
}

function deepFreeze(v: unknown): unknown {
  if (typeof v === 'object' && v !== null) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}
