import { defineConfig } from 'vitest/config';

/**
 * One config, two runtimes. Under Node every suite runs (better-sqlite3). `npm run test:bun` runs vitest under
 * Bun (`bun --bun`) on the suites marked as runtime-neutral, so bun:sqlite is exercised by the same cases.
 */
const underBun = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined';

export default defineConfig({
  test: {
    include: underBun
      ? ['test/unit/storage/**/*.test.ts', 'test/integration/storage/**/*.test.ts']
      : ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real servers and child processes; two cores cannot run many at once reliably.
    maxWorkers: 2,
    pool: 'forks',
    // Under Bun, vitest's externalised zod comes back as an undefined namespace; inlining it fixes the import.
    server: { deps: { inline: ['zod'] } },
  },
});
