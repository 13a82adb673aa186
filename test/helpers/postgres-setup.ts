// vitest globalSetup of the controller-on-postgresql project: one throwaway PostgreSQL server for
// the run (each test controller gets a database of its own on it), removed at the end. Its URL
// is provided to this project's tests only (inject('pgUrl')): an environment variable would
// reach the other project's workers too.
import type { TestProject } from 'vitest/node';
import { PostgresServer } from '../../src/lab/postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string;
  }
}

let server: PostgresServer | undefined;

export async function setup(project: TestProject): Promise<void> {
  server = await PostgresServer.create({ fsync: false, maxConnections: 400 });
  project.provide('pgUrl', server.url);
  console.log(`controller tests on PostgreSQL ${server.url.replace(/:[^:@/]+@/, ':***@')} (${server.dir})`);
}

export async function teardown(): Promise<void> {
  await server?.remove();
}
