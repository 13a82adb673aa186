// Which controller publishes desired state to the bus. On SQLite there is one controller and it
// always does. On PostgreSQL every controller may be running, and the one holding the publishing
// lease (pg-lease.ts) does, fed with every controller's committed changes; the others take over
// when it goes. Agents' reports are taken by every controller, shared in one queue group.
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { DesiredStatePublisher } from '../bus/publisher.js';
import { CONTROLLERS_QUEUE, subscribeReports } from '../bus/report-subscriber.js';
import type { ControllerHooks, HostChange } from '../state/controller-hooks.js';
import type { StoreConfig } from './config.js';
import { PublishingLease } from './pg-lease.js';

export interface Publishing {
  /** the publisher while this controller publishes */
  readonly publisher: DesiredStatePublisher | undefined;
  /** PostgreSQL only */
  readonly lease: PublishingLease | undefined;
  stop(): Promise<void>;
}

export async function startPublishing(nc: NatsConnection, hooks: ControllerHooks, store: StoreConfig, replicas: number, log: Logger, name = 'controller'): Promise<Publishing> {
  const reports: Subscription[] = subscribeReports(nc, hooks, log.child({ module: 'reports' }), CONTROLLERS_QUEUE);
  const publisherLog = log.child({ module: 'publisher' });
  let publisher: DesiredStatePublisher | undefined;
  let lease: PublishingLease | undefined;
  if (store.type === 'sqlite') {
    publisher = new DesiredStatePublisher(nc, hooks, publisherLog, undefined, { reports: false, replicas });
    await publisher.start();
  } else {
    // the publisher hears of changes from the lease's LISTEN (its own units' too), not in-process
    const feed = new Set<(changes: HostChange[]) => void>();
    const leaderHooks: ControllerHooks = {
      ...hooks,
      onHostsChanged: (l) => {
        feed.add(l);
        return () => feed.delete(l);
      },
    };
    lease = new PublishingLease(store.url, name, {
      acquired: async () => {
        publisher = new DesiredStatePublisher(nc, leaderHooks, publisherLog, undefined, { reports: false, replicas });
        await publisher.start();
      },
      lost: async () => {
        const p = publisher;
        publisher = undefined;
        await p?.stop(0);
      },
      changes: (list) => {
        for (const l of feed) l(list);
      },
    }, log.child({ module: 'lease' }));
    lease.start();
  }
  return {
    get publisher() {
      return publisher;
    },
    lease,
    async stop() {
      for (const s of reports) s.unsubscribe();
      await lease?.stop();
      await publisher?.stop();
    },
  };
}
