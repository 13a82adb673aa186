// Leaving the bus on shutdown with a deadline. nats.js's drain() flushes through the server, so
// while the server is away (reconnecting forever, as plumb's connections do) it never settles,
// and a daemon told to stop would hang on it. Drain when the bus answers in time, else close:
// nothing left unsent matters after a stop (desired state is level-based; reports are redone).
import type { NatsConnection } from '@nats-io/transport-node';

export const BUS_CLOSE_DEADLINE_MS = 2000;

export type BusCloseOutcome = 'drained' | 'closed' | 'abandoned';

/** Resolves within about `deadlineMs` (twice at most: drain, then close), never rejects. */
export async function closeBus(nc: NatsConnection, deadlineMs = BUS_CLOSE_DEADLINE_MS): Promise<BusCloseOutcome> {
  if (nc.isClosed()) return 'closed';
  if (await within(nc.drain(), deadlineMs)) return 'drained';
  return (await within(nc.close(), deadlineMs)) ? 'closed' : 'abandoned';
}

/** true when `p` settled (either way) within `ms`. */
export async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = p.then(
    () => true,
    () => true,
  );
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
}
