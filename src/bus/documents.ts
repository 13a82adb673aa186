// A host's desired-state document <-> its per-object KV entries. Pure.
import type { HostStateInput } from '../state/schema.js';
import { metaKey, networkKey, parseKey, portKey } from './layout.js';

/** key -> JSON text, for one host. */
export function entriesOf(host: string, doc: HostStateInput): Map<string, string> {
  const out = new Map<string, string>();
  out.set(metaKey(host), JSON.stringify({ schemaVersion: doc.schemaVersion, generation: doc.generation ?? 0, host: doc.host }));
  for (const n of doc.networks ?? []) out.set(networkKey(host, (n as { id: string }).id), JSON.stringify(n));
  for (const p of doc.ports ?? []) out.set(portKey(host, (p as { id: string }).id), JSON.stringify(p));
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
