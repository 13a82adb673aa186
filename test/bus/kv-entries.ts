// A host's keys in the desired-state bucket as they stand (deleted keys left out).
import type { KV } from '@nats-io/kv';

export async function kvEntries(kv: KV, host: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const key of await kv.keys(`${host}.>`)) {
    const e = await kv.get(key);
    if (e && e.operation === 'PUT') out.set(key, e.string());
  }
  return out;
}
