// Controller side of the bus: keeps each host's KV keys equal to its desired state (writing only
// the keys that changed) and turns agents' status reports and heartbeats into hook calls.
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { jetstream } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import type { ControllerHooks } from '../state/controller-hooks.js';
import { errorMessage } from '../util/errors.js';
import { logger } from '../util/log.js';
import { entriesOf, entriesOfObjects } from './documents.js';
import { within } from './close.js';
import { InvalidKeyTokenError } from './errors.js';
import { BUCKET, STREAM, parseKey } from './layout.js';
import { subscribeReports } from './report-subscriber.js';

export async function openDesiredBucket(nc: NatsConnection, replicas = 1, log?: Logger): Promise<KV> {
  // A short request timeout: a write attempted just as the bus goes away fails fast and is
  // redone on reconnect, instead of holding every later write back for the default 5 s.
  const js = jetstream(nc, { timeout: 1000 });
  // allow_direct lets a host read single keys through a subject its permissions can name
  const kv = await new Kvm(js).create(BUCKET, { history: 5, allow_direct: true, replicas } as never);
  // a bucket made before the cluster (or with another count) keeps its config: raise it here
  const jsm = await js.jetstreamManager();
  const info = await jsm.streams.info(STREAM);
  if (info.config.num_replicas !== replicas) {
    await jsm.streams.update(STREAM, { num_replicas: replicas });
    log?.warn({ from: info.config.num_replicas, to: replicas }, 'desired-state bucket replicas changed');
  }
  return kv;
}

/** What is to be written for one host: everything, or its meta and the named objects. */
interface Scope {
  all: boolean;
  ports: Set<string>;
  networks: Set<string>;
}

export interface PublisherOptions {
  /** also subscribe to the agents' reports (default); false when report-subscriber.ts does it */
  reports?: boolean;
  /** copies of the bucket on a NATS cluster (default 1) */
  replicas?: number;
}

/** How long stop() waits for writes in flight. */
const STOP_DEADLINE_MS = 1500;

/** Every host is rebuilt in full this often (and on start and reconnect), whatever changed. */
const FULL_SYNC_MS = 60_000;

export class DesiredStatePublisher {
  private kv: KV | undefined;
  /** host -> key -> JSON text last written (or found in KV at start). */
  private readonly written = new Map<string, Map<string, string>>();
  private readonly dirty = new Map<string, Scope>();
  private running: Promise<void> | undefined;
  private readonly subs: Subscription[] = [];
  private unhook: (() => void) | undefined;
  private fullSync: NodeJS.Timeout | undefined;
  private readonly log: Logger;
  /** false while the bus is away: writes wait for the reconnect instead of timing out one by one. */
  private connected = true;
  private stopped = false;
  /** Keys written since start (tests check that one port change is one small write). */
  puts = 0;
  deletes = 0;
  /** Host documents built in full since start (the others were changes of a few objects). */
  fullSyncs = 0;
  /** Meta writes skipped because the bucket held a newer generation (another writer was ahead). */
  staleMetas = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly hooks: ControllerHooks,
    log?: Logger,
    private readonly fullSyncMs = FULL_SYNC_MS,
    private readonly opts: PublisherOptions = {},
  ) {
    this.log = log ?? logger('publisher');
  }

  async start(): Promise<void> {
    this.kv = await openDesiredBucket(this.nc, this.opts.replicas ?? 1, this.log);
    // what KV already holds: the durable copy from before a controller restart
    for await (const key of await this.kv.keys()) {
      const e = await this.kv.get(key);
      const host = parseKey(key)?.host;
      if (e && e.operation === 'PUT' && host) this.hostKeys(host).set(key, e.string());
    }
    this.unhook = this.hooks.onHostsChanged((changes) => {
      for (const c of changes) this.schedule(c.host, c.all ? undefined : c);
    });
    await this.scheduleAll();
    await this.flushed();
    this.fullSync = setInterval(() => void this.scheduleAll().catch((err: unknown) => this.log.error({ err: errorMessage(err) }, 'periodic full sync not scheduled')), this.fullSyncMs);
    this.fullSync.unref();
    void (async () => {
      for await (const st of this.nc.status()) {
        if (st.type === 'disconnect') this.connected = false;
        // changes made while the bus was away are written from the hooks' current state
        if (st.type === 'reconnect') {
          this.connected = true;
          await this.scheduleAll().catch((err: unknown) => this.log.error({ err: errorMessage(err) }, 'full sync after reconnect not scheduled'));
        }
      }
    })();
    // a controller of several takes its share of the reports apart (report-subscriber.ts)
    if (this.opts.reports !== false) this.subs.push(...subscribeReports(this.nc, this.hooks, this.log));
  }

  /** Resolves when every scheduled host has been written. */
  async flushed(): Promise<void> {
    while (this.running) await this.running;
  }

  /**
   * Stop publishing; waits for writes in flight, but no longer than `deadlineMs`: with the bus
   * away they could only fail (what was not written is written by the next controller's sync).
   */
  async stop(deadlineMs = STOP_DEADLINE_MS): Promise<void> {
    this.stopped = true;
    this.unhook?.();
    clearInterval(this.fullSync);
    for (const s of this.subs) s.unsubscribe();
    this.dirty.clear();
    if (!(await within(this.flushed(), deadlineMs))) this.log.warn({ deadlineMs }, 'stopped with desired-state writes still in flight');
  }

  private hostKeys(host: string): Map<string, string> {
    let m = this.written.get(host);
    if (!m) {
      m = new Map();
      this.written.set(host, m);
    }
    return m;
  }

  /** Every known host and every host with keys, in full. */
  private async scheduleAll(): Promise<void> {
    for (const h of new Set([...(await this.hooks.knownHostIds()), ...this.written.keys()])) this.schedule(h);
  }

  /** `objects` undefined: the whole host. */
  private schedule(host: string, objects?: { ports: readonly string[]; networks: readonly string[] }): void {
    if (this.stopped) return;
    let s = this.dirty.get(host);
    if (!s) {
      s = { all: false, ports: new Set(), networks: new Set() };
      this.dirty.set(host, s);
    }
    if (!objects) s.all = true;
    else if (!s.all) {
      for (const id of objects.ports) s.ports.add(id);
      for (const id of objects.networks) s.networks.add(id);
    }
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
    while (this.dirty.size > 0 && this.connected && !this.stopped) {
      const batch = [...this.dirty];
      this.dirty.clear();
      // whole-host syncs need the known hosts (an unknown one is cleared): read once per batch
      let known: Promise<Set<string>> | undefined;
      const knownHosts = (): Promise<Set<string>> => (known ??= this.hooks.knownHostIds().then((ids) => new Set(ids)));
      for (const [h, scope] of batch) {
        try {
          await this.syncHost(h, scope, knownHosts);
        } catch (err) {
          if (err instanceof InvalidKeyTokenError) {
            // a host id that cannot be a key prefix: retrying cannot help
            this.log.error({ host: h, err: err.message }, 'host not published');
            continue;
          }
          // the KV keeps the last good copy; retry in full (and again on reconnect)
          this.log.error({ host: h, err: errorMessage(err) }, 'publishing desired state failed; retrying');
          if (this.connected) setTimeout(() => this.schedule(h), 250).unref();
          else this.schedule(h); // redone on reconnect
        }
      }
    }
  }

  /**
   * Write what differs from what was last written: objects first, all in flight at once (a
   * burst of ports is one round trip, not one per key), deletions, then meta with the new
   * generation once they are stored (an agent that sees a generation has its objects).
   */
  private async syncHost(host: string, scope: Scope, knownHosts: () => Promise<Set<string>>): Promise<void> {
    const kv = this.kv;
    if (!kv) return;
    const have = this.hostKeys(host);
    let want: Map<string, string | undefined> & { refused: InvalidKeyTokenError[] };
    if (scope.all) {
      this.fullSyncs += 1;
      const known = (await knownHosts()).has(host);
      const full = known ? entriesOf(host, await this.hooks.desiredState(host)) : Object.assign(new Map<string, string>(), { refused: [] as InvalidKeyTokenError[] });
      want = full;
      for (const key of have.keys()) if (!full.has(key)) want.set(key, undefined);
    } else {
      want = entriesOfObjects(host, await this.hooks.desiredObjects(host, { ports: [...scope.ports], networks: [...scope.networks] }));
    }
    for (const err of want.refused) this.log.error({ host, field: err.field, id: err.value }, `not published: ${err.message}`);
    const isMeta = (key: string): boolean => key.endsWith('.meta');
    const put = async (key: string, text: string): Promise<void> => {
      await kv.put(key, text);
      have.set(key, text);
      this.puts += 1;
    };
    const del = async (key: string): Promise<void> => {
      await kv.delete(key);
      have.delete(key);
      this.deletes += 1;
    };
    const changed = [...want].filter((e): e is [string, string] => e[1] !== undefined && !isMeta(e[0]) && have.get(e[0]) !== e[1]);
    await settleAll(changed.map(([key, text]) => put(key, text)));
    await settleAll([...want].filter(([key, text]) => text === undefined && have.has(key) && !isMeta(key)).map(([key]) => del(key)));
    for (const [key, text] of want) {
      if (!isMeta(key) || have.get(key) === text) continue;
      if (text === undefined) await del(key);
      else await this.putMeta(kv, host, key, text, have);
    }
    if (have.size === 0) this.written.delete(host);
  }

  /**
   * A host's meta (its generation) never goes backwards, whoever else writes the bucket (another
   * controller that held the publishing lease before this one, or still believes it does): the
   * write is a compare-and-set on the revision read, and a newer generation found there means this
   * controller read the store before that writer did, so it reads it again (a full sync).
   */
  private async putMeta(kv: KV, host: string, key: string, text: string, have: Map<string, string>): Promise<void> {
    const cur = await kv.get(key);
    if (cur && cur.operation === 'PUT') {
      const theirs = generationOf(cur.string());
      if (theirs > generationOf(text)) {
        this.staleMetas += 1;
        this.log.info({ host, ours: generationOf(text), theirs }, 'the bucket holds a newer generation: reading the store again');
        have.set(key, cur.string());
        setTimeout(() => this.schedule(host), 50).unref();
        return;
      }
      await kv.update(key, text, cur.revision);
    } else {
      await kv.create(key, text);
    }
    have.set(key, text);
    this.puts += 1;
  }
}

const generationOf = (text: string): number => {
  try {
    const g = (JSON.parse(text) as { generation?: unknown }).generation;
    return typeof g === 'number' ? g : 0;
  } catch {
    return 0;
  }
};

/** Wait for every write; then fail with the first error, if any (the others still landed). */
async function settleAll(writes: Promise<void>[]): Promise<void> {
  const failed = (await Promise.allSettled(writes)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
