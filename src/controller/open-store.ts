// The store a controller config selects: SQLite (embedded, one controller) or PostgreSQL (several).
import type { Logger } from 'pino';
import type { StoreConfig } from './config.js';
import { PostgresStore } from './pg-store.js';
import { SqliteStore } from './sqlite-store.js';
import type { ControllerStore } from './store.js';

export async function openStore(cfg: StoreConfig, log: Logger): Promise<ControllerStore> {
  if (cfg.type === 'sqlite') return new SqliteStore(cfg.path, log);
  return PostgresStore.open({ url: cfg.url, poolSize: cfg.poolSize }, log);
}
