// Exactly one controller of those sharing a PostgreSQL store publishes desired state to the bus:
// the one holding a session-level advisory lock on a connection of its own. PostgreSQL releases
// the lock when that session ends, so a controller that dies (SIGKILL, a lost machine) hands it
// over by dying: the others wait in pg_advisory_lock and one of them gets it at once. The holder
// LISTENs, on the same connection, to the changes every controller's units announce (NOTIFY on
// commit), so a change made through any controller reaches the one that publishes.
//
// A holder that loses its connection stops publishing at once (it no longer knows whether it
// holds the lock). The generation guard in the publisher (bus/publisher.ts putMeta) covers the
// moment in which an old holder that has not noticed yet and the new one both write.
import pg from 'pg';
import type { Logger } from 'pino';
import type { HostChange } from '../state/controller-hooks.js';
import { within } from '../bus/close.js';
import { errorMessage } from '../util/errors.js';
import { HOST_CHANGES_CHANNEL } from './pg-queries.js';
import { shownUrl } from './pg-store.js';

/** An arbitrary constant shared by every controller: the publishing lease. */
export const LEASE_KEY = 0x706c7562; // "plub"

const STOP_DEADLINE_MS = 2000;

/** The lease connection's application_name starts so; the controller's listen address follows. */
export const LEASE_APPLICATION = 'plumb-lease';

/** Which controller holds the lease, as PostgreSQL sees it (its listen address), if any. */
export const LEASE_HOLDER_SQL = `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = ${LEASE_KEY} AND l.objsubid = 1`;



export interface LeaseHandlers {
  /** This controller holds the lease: start publishing (every host in full). */
  acquired(): Promise<void>;
  /** It lost it (its connection broke, or stop()): stop publishing now. */
  lost(): Promise<void>;
  /** Changes committed by any controller, while this one holds the lease. */
  changes(list: HostChange[]): void;
}

export class PublishingLease {
  private client: pg.Client | undefined;
  private stopped = false;
  private held = false;
  private loop: Promise<void> | undefined;
  /** times this controller took the lease (tests and the lab status read it) */
  acquisitions = 0;

  constructor(
    private readonly url: string,
    /** this controller, as the lease connection's application_name shows it (pg_stat_activity) */
    private readonly name: string,
    private readonly handlers: LeaseHandlers,
    private readonly log: Logger,
    private readonly retryMs = 500,
  ) {}

  get holder(): boolean {
    return this.held;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // ending the session releases the lock for the next controller at once
    await this.client?.end().catch(() => undefined);
    // a publisher starting while the bus is away must not hold the controller's exit
    if (this.loop && !(await within(this.loop, STOP_DEADLINE_MS))) this.log.warn({ deadlineMs: STOP_DEADLINE_MS }, 'stopped with the publisher still starting');
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const client = new pg.Client({ connectionString: this.url, keepAlive: true, application_name: `${LEASE_APPLICATION} ${this.name}`.slice(0, 63) });
      this.client = client;
      const ended = new Promise<void>((resolve) => {
        client.once('end', resolve);
        client.on('error', (err) => {
          this.log.warn({ db: shownUrl(this.url), err: err.message }, 'publishing lease connection lost');
          resolve();
        });
      });
      try {
        await client.connect();
        client.on('notification', (n) => {
          if (n.channel !== HOST_CHANGES_CHANNEL || !n.payload) return;
          try {
            this.handlers.changes(JSON.parse(n.payload) as HostChange[]);
          } catch (err) {
            this.log.error({ err: errorMessage(err) }, 'unreadable host change notification');
          }
        });
        // waits here while another controller holds it
        await client.query('SELECT pg_advisory_lock($1)', [LEASE_KEY]);
        if (this.stopped) break;
        await client.query(`LISTEN ${HOST_CHANGES_CHANNEL}`);
        this.held = true;
        this.acquisitions += 1;
        this.log.info({ db: shownUrl(this.url) }, 'holding the publishing lease: this controller publishes desired state');
        await this.handlers.acquired();
        await ended;
      } catch (err) {
        if (!this.stopped) this.log.warn({ db: shownUrl(this.url), err: errorMessage(err) }, 'publishing lease not taken; retrying');
      } finally {
        await client.end().catch(() => undefined);
        if (this.held) {
          this.held = false;
          this.log.warn('publishing lease lost: this controller stops publishing');
          await this.handlers.lost().catch((err: unknown) => this.log.error({ err: errorMessage(err) }, 'stopping the publisher failed'));
        }
      }
      if (!this.stopped) await new Promise((r) => setTimeout(r, this.retryMs));
    }
  }
}
