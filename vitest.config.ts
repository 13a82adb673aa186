import { defineConfig } from 'vitest/config';

// Kernel tests create namespaces with unique names, so files may run in parallel; the machine
// has two cores, so two workers. Forks (not threads) because tests call setns() via koffi.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
