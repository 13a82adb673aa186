// Agent side of the bus: watches only this host's keys and hands the complete desired-state
// document to the agent after the initial snapshot and after every change (coalesced). On every
// reconnect the watch starts over from a fresh snapshot, so no separate resync protocol is
// needed; while the bus is away nothing is emitted and the kernel stays as it is.
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import type { Logger } from 'pino';
import { errorMessage } from '../util/errors.js';
import { logger } from '../util/log.js';
import { HostDocument } from './documents.js';
import { BUCKET, hostPrefix } from './layout.js';

const RETRY_INITIAL_MS = 25;
const RETRY_MAX_MS = 1000;

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
  let current: { stop(): void } | undefined;
  let generation = 0; // which watch an entry belongs to
  let latest = new HostDocument(); // the current watch's entries (for portStoredAt)

  const startWatch = async (): Promise<void> => {
    const mine = ++generation;
    current?.stop();
    const kv = await new Kvm(nc).open(BUCKET);
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
    const iter = await kv.watch({ key: hostPrefix(host) });
    current = { stop: () => iter.stop() };
    void (async () => {
      for await (const e of iter) {
        if (mine !== generation) break;
        if (e.operation === 'PUT') own.set(e.key, e.string(), e.created.getTime());
        else own.delete(e.key);
        if (e.isUpdate) {
          if (!initialDone) {
            initialDone = true;
            emit(); // the snapshot is complete
          } else {
            timer ??= setTimeout(emit, coalesceMs);
          }
        }
      }
    })()
      .catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'watch ended'))
      .finally(() => {
        // a watch that ends by itself (its consumer lost, not replaced by us) starts over
        if (mine === generation && !stopped && !nc.isClosed()) restart();
      });
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
        log.info('bus reconnected: rebuilding the desired state from a fresh snapshot');
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
