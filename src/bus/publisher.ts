// Controller side of the bus: keeps each host's KV keys equal to its desired state (writing only
// the keys that changed) and turns agents' status reports and heartbeats into hook calls.
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { jetstream } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import type { ControllerHooks } from '../controller/hooks.js';
import { errorMessage } from '../util/errors.js';
import { logger } from '../util/log.js';
import { entriesOf } from './documents.js';
import { InvalidKeyTokenError } from './errors.js';
import { BUCKET, parseKey } from './layout.js';
import { parseHeartbeatMessage, parseStatusMessage } from './reports.js';

export async function openDesiredBucket(nc: NatsConnection): Promise<KV> {
  // A short request timeout: a write attempted just as the bus goes away fails fast and is
  // redone on reconnect, instead of holding every later write back for the default 5 s.
  const js = jetstream(nc, { timeout: 1000 });
  // allow_direct lets a host read single keys through a subject its permissions can name
  return new Kvm(js).create(BUCKET, { history: 5, allow_direct: true } as never);
}

export class DesiredStatePublisher {
  private kv: KV | undefined;
  /** key -> JSON text last written (or found in KV at start). */
  private readonly written = new Map<string, string>();
  private readonly dirty = new Set<string>();
  private running: Promise<void> | undefined;
  private readonly subs: Subscription[] = [];
  private unhook: (() => void) | undefined;
  private readonly log: Logger;
  /** false while the bus is away: writes wait for the reconnect instead of timing out one by one. */
  private connected = true;
  /** Keys written since start (tests check that one port change is one small write). */
  puts = 0;
  deletes = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly hooks: ControllerHooks,
    log?: Logger,
  ) {
    this.log = log ?? logger('publisher');
  }

  async start(): Promise<void> {
    this.kv = await openDesiredBucket(this.nc);
    // what KV already holds: the durable copy from before a controller restart
    for await (const key of await this.kv.keys()) {
      const e = await this.kv.get(key);
      if (e && e.operation === 'PUT') this.written.set(key, e.string());
    }
    this.unhook = this.hooks.onHostsChanged((hosts) => this.schedule(hosts));
    const known = new Set([...this.hooks.knownHostIds(), ...[...this.written.keys()].map((k) => parseKey(k)?.host).filter((h): h is string => !!h)]);
    this.schedule([...known]);
    await this.flushed();
    void (async () => {
      for await (const st of this.nc.status()) {
        if (st.type === 'disconnect') this.connected = false;
        // changes made while the bus was away are written from the hooks' current state
        if (st.type === 'reconnect') {
          this.connected = true;
          this.schedule(this.hooks.knownHostIds());
        }
      }
    })();
    this.subs.push(
      this.nc.subscribe('plumb.status.*', {
        callback: (err, msg) => {
          if (!err) this.onStatus(msg.subject, msg.data);
        },
      }),
    );
    this.subs.push(
      this.nc.subscribe('plumb.heartbeat.*', {
        callback: (err, msg) => {
          if (!err) this.onHeartbeat(msg.subject, msg.data);
        },
      }),
    );
  }

  /** Resolves when every scheduled host has been written. */
  async flushed(): Promise<void> {
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.unhook?.();
    for (const s of this.subs) s.unsubscribe();
    await this.flushed();
  }

  private schedule(hosts: string[]): void {
    for (const h of hosts) this.dirty.add(h);
    if (!this.running) {
      this.running = this.drain().finally(() => {
        this.running = undefined;
      });
    }
  }

  private async drain(): Promise<void> {
    // Hosts are marked dirty from inside the API's write path: let the answer to that request
    // go out first (and more changes of the same turn join this batch), then build documents.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.dirty.size > 0 && this.connected) {
      const hosts = [...this.dirty];
      this.dirty.clear();
      for (const h of hosts) {
        try {
          await this.syncHost(h);
        } catch (err) {
          if (err instanceof InvalidKeyTokenError) {
            // a host id that cannot be a key prefix: retrying cannot help
            this.log.error({ host: h, err: err.message }, 'host not published');
            continue;
          }
          // the KV keeps the last good copy; retry (and again on reconnect)
          this.log.error({ host: h, err: errorMessage(err) }, 'publishing desired state failed; retrying');
          if (this.connected) setTimeout(() => this.schedule([h]), 250).unref();
          else this.dirty.add(h); // redone on reconnect
        }
      }
    }
  }

  private async syncHost(host: string): Promise<void> {
    const kv = this.kv;
    if (!kv) return;
    const known = this.hooks.knownHostIds().includes(host);
    const want = known ? entriesOf(host, this.hooks.desiredState(host)) : Object.assign(new Map<string, string>(), { refused: [] as InvalidKeyTokenError[] });
    for (const err of want.refused) this.log.error({ host, field: err.field, id: err.value }, `not published: ${err.message}`);
    // Objects first, all in flight at once (a burst of ports is one round trip, not one per
    // key), then meta with the new generation once they are stored.
    const put = async (key: string, text: string): Promise<void> => {
      await kv.put(key, text);
      this.written.set(key, text);
      this.puts += 1;
    };
    const changed = [...want].filter(([key, text]) => !key.endsWith('.meta') && this.written.get(key) !== text);
    await settleAll(changed.map(([key, text]) => put(key, text)));
    const gone = [...this.written.keys()].filter((key) => parseKey(key)?.host === host && !want.has(key));
    await settleAll(
      gone.map(async (key) => {
        await kv.delete(key);
        this.written.delete(key);
        this.deletes += 1;
      }),
    );
    for (const [key, text] of want) if (key.endsWith('.meta') && this.written.get(key) !== text) await put(key, text);
  }

  private onStatus(subject: string, data: Uint8Array): void {
    const host = subject.split('.')[2];
    if (!host) return;
    try {
      const msg = parseStatusMessage(data);
      for (const p of msg.ports) {
        this.hooks.reportPortStatus({ hostId: host, portId: p.id, status: p.status, ...(p.reason ? { reason: p.reason } : {}), revision: p.revision, generation: msg.generation });
      }
    } catch (err) {
      this.log.warn({ host, err: errorMessage(err) }, 'invalid status report ignored');
    }
  }

  private onHeartbeat(subject: string, data: Uint8Array): void {
    const host = subject.split('.')[2];
    if (!host) return;
    try {
      const msg = parseHeartbeatMessage(data);
      this.hooks.reportHeartbeat({ hostId: host, version: msg.version, ...(msg.underlayAddress ? { underlayAddress: msg.underlayAddress } : {}) });
    } catch (err) {
      this.log.warn({ host, err: errorMessage(err) }, 'invalid heartbeat ignored');
    }
  }
}

/** Wait for every write; then fail with the first error, if any (the others still landed). */
async function settleAll(writes: Promise<void>[]): Promise<void> {
  const failed = (await Promise.allSettled(writes)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
