// vitest globalSetup of the controller-on-postgresql project: one throwaway PostgreSQL server for
// the run (each test controller gets a database of its own on it), removed at the end.
import { PostgresServer } from '../../src/lab/postgres.js';

let server: PostgresServer | undefined;

export async function setup(): Promise<void> {
  server = await PostgresServer.create({ fsync: false, maxConnections: 400 });
  process.env.PLUMB_TEST_PG_URL = server.url;
  console.log(`controller tests on PostgreSQL ${server.url.replace(/:[^:@/]+@/, ':***@')} (${server.dir})`);
}

export async function teardown(): Promise<void> {
  await server?.remove();
}
