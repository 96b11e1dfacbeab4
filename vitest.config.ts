import { defineConfig } from 'vitest/config';

/**
 * One config, two runtimes, three projects. Under Node every suite runs (better-sqlite3). `npm run test:bun` runs
 * vitest under Bun (`bun --bun`) on the suites marked as runtime-neutral, so bun:sqlite is exercised by the same
 * cases. `--project unit` (or `integration`, `e2e`) runs one layer: unit takes seconds, e2e takes minutes.
 */
const underBun = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined';

/** The suites of one layer: under Bun only its storage suites (the runtime-neutral ones). */
function layer(name: 'unit' | 'integration' | 'e2e') {
  const include = underBun ? [`test/${name}/storage/**/*.test.ts`] : [`test/${name}/**/*.test.ts`];
  // extends: every project inherits the shared options below. Unit tests touch no process-wide state, so they
  // share one module graph per worker instead of loading it again for every file (most of their time otherwise).
  return { extends: true as const, test: { name, include, ...(name === 'unit' ? { isolate: false } : {}) } };
}

export default defineConfig({
  test: {
    projects: underBun ? [layer('unit'), layer('integration')] : [layer('unit'), layer('integration'), layer('e2e')],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real servers and child processes; two cores cannot run many at once reliably.
    maxWorkers: 2,
    pool: 'forks',
    // Under Bun, vitest's externalised zod comes back as an undefined namespace; inlining it fixes the import.
    server: { deps: { inline: ['zod'] } },
  },
});
