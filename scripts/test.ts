/**
 * The whole test suite: vitest on Node (every suite), then vitest under Bun (the runtime-neutral suites, so
 * bun:sqlite runs the same storage cases). Ends with one plain line `N passed, N failed, N skipped` that CI reads.
 * Extra arguments are passed to the Node run (e.g. a path filter).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const out = mkdtempSync(join(tmpdir(), 'cst-test-'));
const vitest = join(root, 'node_modules/vitest/vitest.mjs');
const bun = join(root, 'node_modules/.bin/bun');

interface Totals { passed: number; failed: number; skipped: number }
const totals: Totals = { passed: 0, failed: 0, skipped: 0 };

function run(label: string, command: string, args: string[]): void {
  const report = join(out, `${label}.json`);
  console.log(`\n=== ${label}: ${[command, ...args].join(' ')}`);
  const result = spawnSync(command, [...args, '--reporter=default', '--reporter=json', `--outputFile.json=${report}`], { cwd: root, stdio: 'inherit' });
  let counted = false;
  try {
    const json = JSON.parse(readFileSync(report, 'utf8')) as { numPassedTests: number; numFailedTests: number; numPendingTests: number; numTodoTests: number };
    totals.passed += json.numPassedTests;
    totals.failed += json.numFailedTests;
    totals.skipped += json.numPendingTests + json.numTodoTests;
    counted = true;
  } catch {
    // no report: the runner itself failed
  }
  if (!counted || (result.status !== 0 && totals.failed === 0)) {
    console.log(`${label}: the runner failed (exit ${result.status}, signal ${result.signal}) without a usable report`);
    totals.failed += 1;
  }
}

run('node', process.execPath, [vitest, 'run', ...process.argv.slice(2)]);
if (process.argv.length <= 2) run('bun', bun, ['--bun', vitest, 'run']);

console.log(`\n${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(totals.failed > 0 ? 1 : 0);
