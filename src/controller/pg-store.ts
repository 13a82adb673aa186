// The PostgreSQL implementation of the controller store, for several controllers on one database
// (node-postgres: the most used client, pure JavaScript, with its pool and explicit
// transactions; docs/controller-store.md says why not another).
//
// Each unit runs on a pooled connection in its own transaction: a write unit at READ COMMITTED
// with advisory locks on what its checks read (pg-queries.ts), a read unit at REPEATABLE READ
// READ ONLY (one snapshot). A write unit that collides with a concurrent one (serialization
// failure, deadlock, a unique or foreign key violation that its checks could not see yet) is
// rolled back and run again, as store.ts allows, a bounded number of times. A lost or refused
// connection is a StoreUnavailableError (the API answers 503 with Retry-After); the pool opens new
// connections for later units, so the controller resumes by itself when the database returns.
import pg from 'pg';
import type { Logger } from 'pino';
import { errorMessage } from '../util/errors.js';
import { migrate } from './pg-schema.js';
import { pgTx, type Query } from './pg-queries.js';
import { StoreClosedError, StoreContentionError, StoreUnavailableError, SubnetInUseStoreError, SubnetOverlapStoreError, SubnetPoolsStoreError } from './store-errors.js';
import type { ControllerStore, StoreCounters, StoreReader, StoreTx } from './store.js';

export interface PgStoreOptions {
  /** postgresql://user:password@host:port/database */
  url: string;
  /** connections this controller keeps at most */
  poolSize: number;
  /** how long a unit waits for a connection (the database being away) before 503 */
  connectTimeoutMs?: number;
}

/** How often a colliding write unit is run before it gives up (StoreContentionError). */
const MAX_ATTEMPTS = 12;

/** SQLSTATEs after which running the unit again can succeed. */
const RETRYABLE = new Set(['40001', '40P01', '23505', '23503']);

/** The URL without its password, for messages and logs. */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgresql://(an unparsable URL)';
  }
}

interface PgError {
  code?: string;
  constraint?: string;
  message: string;
}

const sqlState = (err: unknown): string | undefined => (err instanceof Error ? (err as PgError).code : undefined);

/** The connection is gone or cannot be made: not the unit's fault. */
function isUnavailable(err: unknown): boolean {
  const code = sqlState(err);
  if (code && (code.startsWith('08') || ['57P01', '57P02', '57P03', '53300', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code))) return true;
  const m = errorMessage(err);
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|connection is not open|not queryable/i.test(m);
}

/** A constraint or trigger of the schema refused the write: the typed invariant error. */
function invariantError(err: unknown): Error | undefined {
  if (!(err instanceof Error)) return undefined;
  const e = err as PgError;
  if (e.code === '23P01' && e.constraint?.startsWith('subnets_')) return new SubnetOverlapStoreError(`the subnet overlaps another subnet of its network (or of the public networks)`);
  if ((e.code === '23514' && e.constraint === 'subnets_pools_valid') || (e.code === 'P0001' && e.message === 'plumb invariant subnet-pools')) {
    return new SubnetPoolsStoreError('the subnet\'s allocation pools are not inside it, reversed, overlapping or hold its gateway (or were to change)');
  }
  if (e.code === '23503' && /on table "subnets"/.test(e.message) && /fixed_ips|floating_ips/.test(e.message)) return new SubnetInUseStoreError('the subnet is used by fixed or floating addresses');
  return undefined;
}

const statementNames = new Map<string, string>();
function statementName(sql: string): string {
  let n = statementNames.get(sql);
  if (!n) {
    n = `plumb_${statementNames.size}`;
    statementNames.set(sql, n);
  }
  return n;
}

export class PostgresStore implements ControllerStore {
  private closed = false;
  /** units running now: settled() waits for those submitted before it */
  private readonly inFlight = new Set<Promise<unknown>>();
  /** since start, for counters(): units run again after a collision, statements, units */
  private retries = 0;
  private statements = 0;
  private units = 0;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly where: string,
    private readonly log: Logger,
  ) {}

  /** Connects and migrates; an unreachable database is a StoreUnavailableError naming the URL. */
  static async open(opts: PgStoreOptions, log: Logger): Promise<PostgresStore> {
    const where = shownUrl(opts.url);
    const pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize, connectionTimeoutMillis: opts.connectTimeoutMs ?? 3000, keepAlive: true, application_name: 'plumb-controller' });
    // an idle connection whose server went away: the pool drops it, the next unit opens another
    pool.on('error', (err) => log.warn({ db: where, err: err.message }, 'idle database connection lost'));
    // a connection lost while a unit holds it: the unit's query fails (and answers 503); the
    // client's own 'error' event must not become an uncaught exception
    pool.on('connect', (client) => client.on('error', (err) => log.warn({ db: where, err: err.message }, 'database connection lost')));
    let c: pg.PoolClient;
    try {
      c = await pool.connect();
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw new StoreUnavailableError(where, err);
    }
    try {
      await migrate(c, where);
    } catch (err) {
      c.release(true);
      await pool.end().catch(() => undefined);
      throw isUnavailable(err) ? new StoreUnavailableError(where, err) : err;
    }
    c.release();
    return new PostgresStore(pool, where, log);
  }

  read<T>(fn: (r: StoreReader) => Promise<T>): Promise<T> {
    return this.tracked(this.unit(fn, false));
  }

  write<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.tracked(this.writeWithRetries(fn));
  }

  counters(): StoreCounters {
    return { units: this.units, statements: this.statements, retries: this.retries };
  }

  /** Units run side by side here: wait for those in flight now. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  private tracked<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    const done = (): void => void this.inFlight.delete(p);
    p.then(done, done);
    return p;
  }

  private async writeWithRetries<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.unit(fn, true);
      } catch (err) {
        const code = sqlState(err);
        if (!code || !RETRYABLE.has(code)) throw invariantError(err) ?? err;
        if (attempt >= MAX_ATTEMPTS) throw invariantError(err) ?? new StoreContentionError(attempt, err);
        this.retries += 1;
        // jittered, growing pauses: colliding units do not collide again in lockstep
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)));
      }
    }
  }

  /** One statement outside any unit, for tools and tests that inspect or damage the database. */
  async sql<R = Record<string, unknown>>(text: string, args: unknown[] = []): Promise<R[]> {
    return (await this.pool.query(text, args)).rows as R[];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  private async unit<T>(fn: (tx: StoreTx) => Promise<T>, write: boolean): Promise<T> {
    if (this.closed) throw new StoreClosedError();
    let c: pg.PoolClient;
    try {
      c = await this.pool.connect();
    } catch (err) {
      throw new StoreUnavailableError(this.where, err);
    }
    // the first error the database gave in this unit decides (fn may have caught it and gone on,
    // and everything after it fails with 25P02 "transaction is aborted")
    let first: unknown;
    const q: Query = async <R>(sql: string, args?: unknown[]): Promise<R[]> => {
      try {
        this.statements += 1;
        // named: each connection parses and plans a statement once, not per call
        return (await c.query({ name: statementName(sql), text: sql, values: args ?? [] })).rows as R[];
      } catch (err) {
        first ??= err;
        throw err;
      }
    };
    let broken = false;
    this.units += 1;
    try {
      await c.query(write ? 'BEGIN ISOLATION LEVEL READ COMMITTED' : 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const result = await fn(pgTx(q, write));
      if (first !== undefined) throw first;
      await c.query('COMMIT');
      return result;
    } catch (caught) {
      const err = first ?? caught;
      if (isUnavailable(err) || isUnavailable(caught)) {
        broken = true;
        throw new StoreUnavailableError(this.where, err);
      }
      await c.query('ROLLBACK').catch((e: unknown) => {
        broken = true;
        this.log.warn({ db: this.where, err: errorMessage(e) }, 'rollback failed; the connection is dropped');
      });
      throw err;
    } finally {
      c.release(broken);
    }
  }
}
