import { defineConfig } from 'vitest/config';

// Kernel tests create namespaces with unique names, so files may run in parallel; the machine
// has two cores, so two workers. Forks (not threads) because tests call setns() via koffi.
// Two projects: every test as it is (controllers on SQLite), and the controller's API suite
// again with every test controller on a real PostgreSQL (one throwaway server for the run).
const common = { pool: 'forks' as const, testTimeout: 60_000, hookTimeout: 60_000 };

export default defineConfig({
  test: {
    ...common,
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    reporters: ['default'],
    projects: [
      { test: { ...common, name: 'all', include: ['test/**/*.test.ts'] } },
      {
        test: {
          ...common,
          name: 'controller-on-postgresql',
          // store.test.ts is about the SQLite store itself; pg-store.test.ts starts servers of its own
          include: ['test/controller/**/*.test.ts'],
          exclude: ['test/controller/store.test.ts', 'test/controller/pg-store.test.ts'],
          globalSetup: ['test/helpers/postgres-setup.ts'],
        },
      },
    ],
  },
});
