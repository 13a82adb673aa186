// Agent side of the bus: watches only this host's keys and hands the complete desired-state
// document to the agent after the initial snapshot and after every change (coalesced). On every
// reconnect the watch starts over from a fresh snapshot, so no separate resync protocol is
// needed; while the bus is away nothing is emitted and the kernel stays as it is. The watch is a
// pull consumer on one of the host's named slots (src/bus/pull-watch.ts), the only JetStream use
// its credentials allow.
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { errorMessage } from '../util/errors.js';
import { logger } from '../util/log.js';
import { HostDocument } from './documents.js';
import { WATCH_SLOTS } from './layout.js';
import { startPullWatch, type PullWatch } from './pull-watch.js';
import { WatchConsumerError } from './errors.js';

const RETRY_INITIAL_MS = 25;
const RETRY_MAX_MS = 1000;
const CLUSTER_CONSUMER_REPLICAS = 3;

export interface HostStateWatch {
  stop(): Promise<void>;
  /** When the bus stored a port's current entry (ms since the epoch): latency accounting. */
  portStoredAt(portId: string): number | undefined;
}

export async function watchHostState(
  nc: NatsConnection,
  host: string,
  onDocument: (doc: unknown) => void,
  opts: { log?: Logger; coalesceMs?: number } = {},
): Promise<HostStateWatch> {
  const log = opts.log ?? logger('watcher', { host });
  // the controller writes a port's key and then the host's meta key: one document for both
  const coalesceMs = opts.coalesceMs ?? 2;
  let stopped = false;
  let current: PullWatch | undefined;
  let generation = 0; // which watch an entry belongs to
  let latest = new HostDocument(); // the current watch's entries (for portStoredAt)

  let slot = 0; // the next watch takes the slot after the current one's
  // on a cluster, consumers as replicated as the bucket (3); 1 if the server refuses that (a
  // single server, or a bucket with fewer copies)
  let replicas = nc.info?.cluster ? CLUSTER_CONSUMER_REPLICAS : 1;

  const startWatch = async (): Promise<void> => {
    const mine = ++generation;
    current?.stop();
    current = undefined;
    const own = new HostDocument();
    latest = own;
    let initialDone = false;
    let timer: NodeJS.Timeout | undefined;
    const emit = (): void => {
      timer = undefined;
      if (mine !== generation || stopped) return;
      const doc = own.document();
      if (doc !== undefined) onDocument(doc);
    };
    const watch = await startPullWatch(nc, host, slot, {
      onEntry: (e) => {
        if (mine !== generation) return;
        if (e.operation === 'PUT') own.set(e.key, e.value, e.storedAt);
        else own.delete(e.key);
        if (initialDone) timer ??= setTimeout(emit, coalesceMs);
      },
      onCaughtUp: () => {
        if (mine !== generation) return;
        initialDone = true;
        emit(); // the snapshot is complete
      },
      onEnd: (err) => {
        log.warn({ err: errorMessage(err) }, 'watch ended');
        // a watch that ends by itself (not replaced by us) starts over
        if (mine === generation && !stopped && !nc.isClosed()) restart();
      },
    }, replicas).catch((err: unknown) => {
      if (replicas > 1 && err instanceof WatchConsumerError && /replica|peers|clustered/i.test(err.message)) {
        log.info({ err: err.message }, 'replicated watch consumers refused: using single copies');
        replicas = 1;
      }
      throw err;
    });
    if (mine !== generation || stopped) {
      watch.stop(); // replaced or stopped while the consumer was being created
      return;
    }
    slot = (watch.slot + 1) % WATCH_SLOTS;
    current = watch;
  };

  // Right after a reconnect JetStream may not answer yet: retry soon, then less often, so a
  // bus that returns is picked up within a few tens of milliseconds, not on a fixed 1 s tick.
  let retryMs = RETRY_INITIAL_MS;
  let retryTimer: NodeJS.Timeout | undefined;
  const restart = (): void => {
    if (stopped) return;
    clearTimeout(retryTimer);
    retryTimer = undefined;
    startWatch().then(
      () => (retryMs = RETRY_INITIAL_MS),
      (err: unknown) => {
        if (stopped) return;
        log.warn({ err: errorMessage(err), retryMs }, 'watch could not start; retrying');
        retryTimer = setTimeout(restart, retryMs);
        retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
      },
    );
  };

  void (async () => {
    for await (const s of nc.status()) {
      if (stopped) break;
      if (s.type === 'reconnect') {
        // a replicated consumer outlived the node this connection was on: pull on from it. A new
        // one would wait for the cluster's JetStream meta leader, which may have died with that
        // node (4-9 s of election, and 30 s and more were seen with the retries). One copy on a
        // single server is gone if the server restarted: rebuild.
        if (current && replicas > 1) {
          log.info('bus reconnected: pulling on from the replicated watch consumer');
          current.resume();
        } else {
          log.info('bus reconnected: rebuilding the desired state from a fresh snapshot');
          restart();
        }
      }
      // A node the client had discovered left the cluster (nodes given in the config are not
      // reported so): a consumer with a single copy (a server that refused replicated ones) may
      // have lived there and be gone without a word. Start a new watch now rather than after
      // the pull's silence (pull-watch.ts). A replicated one lives on under a new leader.
      if (s.type === 'update' && (s.deleted?.length ?? 0) > 0 && replicas === 1) {
        log.info({ left: s.deleted }, 'a bus node left the cluster: rebuilding the desired state from a fresh snapshot');
        restart();
      }
    }
  })();
  await startWatch();
  return {
    async stop() {
      stopped = true;
      clearTimeout(retryTimer);
      generation++;
      current?.stop();
    },
    portStoredAt: (id) => latest.portStoredAt.get(id),
  };
}
