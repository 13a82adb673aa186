// One watch of a host's keys as a JetStream pull consumer: the last value of every key, then
// every change, in order. Pull and not push: a pulled message is a reply, and replies come back
// only into the requesting host's account, while a push consumer's deliveries would need a
// deliver subject exported from the JetStream account (src/bus/server-config.ts). The consumer
// takes one of the host's WATCH_SLOTS names, the only ones its credentials may create.
import { createInbox, nanos, nuid, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { WatchConsumerError, WatchInterruptedError, WatchSlotsExhaustedError } from './errors.js';
import { BUCKET, STREAM, WATCH_SLOTS, consumerCreateSubject, consumerDeleteSubject, consumerNextSubject, hostSubjects, inboxPrefix, watchConsumerName } from './layout.js';

/** Messages per pull; the next pull goes out when a batch is used up or its request expires. */
const PULL_BATCH = 256;
const PULL_EXPIRES_MS = 30_000;
/** The server sends a heartbeat on an idle pull this often. */
const HEARTBEAT_MS = 1_000;
/**
 * Silence this long: pull again, every heartbeat while it lasts. A replicated consumer whose
 * leader died lives on under a new leader, but the pulls waiting at the old one are lost with it:
 * a new pull resumes delivery as soon as the new leader is elected.
 */
const REPULL_AFTER_MS = 2 * HEARTBEAT_MS;
/** Silence this long: the consumer is gone (a single copy on a dead node); start a new watch. */
const GIVE_UP_AFTER_MS = 10 * HEARTBEAT_MS;
/** A consumer nobody pulls from is removed by the server after this long, freeing its name. */
const INACTIVE_MS = 10_000;
const CREATE_TIMEOUT_MS = 2_000;

export interface KeyEntry {
  key: string;
  operation: 'PUT' | 'DEL' | 'PURGE';
  value: string;
  /** When the stream stored it (ms since the epoch). */
  storedAt: number;
}

export interface PullWatchHandlers {
  onEntry(e: KeyEntry): void;
  /** The last value of every key has been delivered (once per watch; later entries are changes). */
  onCaughtUp(): void;
  /** The watch ended by itself; the caller starts a new one. */
  onEnd(err: Error): void;
}

export interface PullWatch {
  /** Stop pulling and delete the consumer (fire and forget: never waits on the bus). */
  stop(): void;
  /**
   * Pull again now: after a reconnect, the pull waiting at the server was lost with the old
   * connection. A consumer that no longer exists answers 503 (no responders) and the watch ends;
   * a delivery lost in between shows as a gap in the consumer's sequence and ends it too.
   */
  resume(): void;
  readonly slot: number;
}

interface ConsumerCreateResponse {
  error?: { code: number; err_code: number; description: string };
  num_pending?: number;
  num_waiting?: number;
  delivered?: { consumer_seq: number };
}

const KV_SUBJECT_PREFIX = `$KV.${BUCKET}.`;

/**
 * Create the consumer on the first free slot from `firstSlot` on and start pulling. A slot whose
 * consumer has delivered or has a waiting pull belongs to a live watch (or one not yet expired):
 * creating "again" would only update that consumer, not start a fresh snapshot.
 */
/**
 * `replicas`: copies of the consumer. 1 on a single server; on a cluster as many as the bucket
 * has (3), so the watch survives the death of any one node: an R1 consumer on a dead node is
 * gone, and its name stays taken until that node returns.
 */
export async function startPullWatch(nc: NatsConnection, host: string, firstSlot: number, h: PullWatchHandlers, replicas = 1): Promise<PullWatch> {
  const filter = hostSubjects(host);
  for (let i = 0; i < WATCH_SLOTS; i++) {
    const slot = (firstSlot + i) % WATCH_SLOTS;
    const name = watchConsumerName(host, slot);
    const config = {
      name,
      description: `plumb watch ${nuid.next()}`,
      filter_subject: filter,
      deliver_policy: 'last_per_subject',
      ack_policy: 'none',
      max_deliver: -1,
      inactive_threshold: nanos(INACTIVE_MS),
      mem_storage: true,
      num_replicas: replicas,
    };
    const reply = await nc.request(consumerCreateSubject(host, slot), JSON.stringify({ stream_name: STREAM, config }), { timeout: CREATE_TIMEOUT_MS });
    const info = reply.json<ConsumerCreateResponse>();
    if (info.error) throw new WatchConsumerError(info.error.code, info.error.err_code, info.error.description);
    if ((info.delivered?.consumer_seq ?? 0) > 0 || (info.num_waiting ?? 0) > 0) continue;
    return pull(nc, host, slot, info.num_pending ?? 0, h);
  }
  throw new WatchSlotsExhaustedError(`host ${host}: all ${WATCH_SLOTS} watch consumer names are in use`);
}

function pull(nc: NatsConnection, host: string, slot: number, initialPending: number, h: PullWatchHandlers): PullWatch {
  let ended = false;
  let caughtUp = false;
  let lastSeq = 0;
  let inBatch = 0;
  let lastHeard = Date.now();
  const inbox = createInbox(inboxPrefix(host)); // the only subjects a host may subscribe to
  const next = (): void => {
    inBatch = 0;
    if (!ended && !nc.isClosed()) nc.publish(consumerNextSubject(host, slot), JSON.stringify({ batch: PULL_BATCH, expires: nanos(PULL_EXPIRES_MS), idle_heartbeat: nanos(HEARTBEAT_MS) }), { reply: inbox });
  };
  const end = (err: Error): void => {
    if (ended) return;
    stop();
    h.onEnd(err);
  };
  const onMsg = (m: Msg): void => {
    lastHeard = Date.now();
    const code = m.headers?.code ?? 0;
    if (code !== 0) {
      if (code === 100) return; // idle heartbeat
      if (code === 404 || code === 408) return next(); // no messages / request expired
      // the consumer lives on under a new leader (its old one died): pull from that one. Ending
      // here would create a new consumer, which waits for the cluster's JetStream meta leader,
      // and that may have died with the same node (another election, 4-9 s more)
      if (code === 409 && /leadership change/i.test(m.headers?.description ?? '')) return next();
      return end(new WatchInterruptedError(`pull ended: ${code} ${m.headers?.description ?? ''}`.trim()));
    }
    const meta = ackMeta(m.reply);
    if (!meta || meta.consumerSeq !== lastSeq + 1) return end(new WatchInterruptedError(`delivery out of order (after ${lastSeq}: ${m.reply ?? 'no reply subject'})`));
    lastSeq = meta.consumerSeq;
    const op = m.headers?.get('KV-Operation');
    h.onEntry({ key: m.subject.slice(KV_SUBJECT_PREFIX.length), operation: op === 'DEL' || op === 'PURGE' ? op : 'PUT', value: m.string(), storedAt: Math.floor(meta.timestampNanos / 1e6) });
    if (!caughtUp && meta.pending === 0) {
      caughtUp = true;
      h.onCaughtUp();
    }
    if (++inBatch >= PULL_BATCH) next();
  };
  const sub: Subscription = nc.subscribe(inbox, { callback: (err, m) => (err ? end(err) : onMsg(m)) });
  const watchdog = setInterval(() => {
    const silent = Date.now() - lastHeard;
    if (silent > GIVE_UP_AFTER_MS) end(new WatchInterruptedError(`no heartbeat for ${GIVE_UP_AFTER_MS} ms`));
    else if (silent > REPULL_AFTER_MS) next();
  }, HEARTBEAT_MS);
  watchdog.unref();
  const stop = (): void => {
    if (ended) return;
    ended = true;
    clearInterval(watchdog);
    sub.unsubscribe();
    // frees the name now rather than after INACTIVE_MS; a lost delete only costs that wait
    if (!nc.isClosed()) nc.publish(consumerDeleteSubject(host, slot));
  };
  const resume = (): void => {
    lastHeard = Date.now();
    next();
  };
  next();
  if (initialPending === 0) {
    caughtUp = true;
    queueMicrotask(() => h.onCaughtUp());
  }
  return { stop, resume, slot };
}

/** Sequence, timestamp and pending count from a JetStream reply subject (v1 and v2 forms). */
function ackMeta(reply: string | undefined): { consumerSeq: number; timestampNanos: number; pending: number } | undefined {
  const t = reply?.split('.');
  if (!t || t[0] !== '$JS' || t[1] !== 'ACK') return undefined;
  // v1: $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>
  // v2: $JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>[.<token>]
  const base = t.length === 9 ? 2 : t.length >= 11 ? 4 : -1;
  if (base < 0) return undefined;
  const [consumerSeq, timestampNanos, pending] = [t[base + 4], t[base + 5], t[base + 6]].map(Number);
  if (consumerSeq === undefined || timestampNanos === undefined || pending === undefined || [consumerSeq, timestampNanos, pending].some((n) => !Number.isFinite(n))) return undefined;
  return { consumerSeq, timestampNanos, pending };
}
