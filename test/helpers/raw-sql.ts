// One SQL statement on a controller's store behind the service's back (PostgreSQL's $n
// placeholders; rewritten to SQLite's ?): what a tool or an operator with psql could do.
import type { ControllerStore } from '../../src/controller/store.js';
import { PostgresStore } from '../../src/controller/pg-store.js';
import { SqliteStore } from '../../src/controller/sqlite-store.js';

export async function rawSql(store: ControllerStore, sql: string, args: unknown[] = []): Promise<unknown[]> {
  if (store instanceof PostgresStore) return store.sql(sql, args);
  if (store instanceof SqliteStore) {
    const st = store.db.prepare(sql.replace(/\$\d+/g, '?'));
    return st.reader ? st.all(...args) : (st.run(...args), []);
  }
  throw new Error('rawSql: not a store this helper knows');
}
