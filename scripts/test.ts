/**
 * The whole test suite: the x64 device binary is built first, then three stages:
 *   1. vitest on Node: every suite;
 *   2. vitest under Bun: the runtime-neutral storage suites, so bun:sqlite runs the same cases as better-sqlite3;
 *   3. the HIL rig runner (after the three x64 test builds the ota-* scenarios install): every scenario against the compiled x64 binary, as a customer's rig would run it
 *      (each scenario counts as one test; its JUnit and JSON reports land in out/hil/).
 * Ends with one plain line `N passed, N failed, N skipped` that CI reads. Extra arguments are passed to the Node
 * run (e.g. a path filter) and skip the other stages.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { HIL_BUILDS } from '../src/hil/scenario-kit/hil-builds.js';

const root = resolve(import.meta.dirname, '..');
const out = mkdtempSync(join(tmpdir(), 'cst-test-'));
const vitest = join(root, 'node_modules/vitest/vitest.mjs');
const bun = join(root, 'node_modules/.bin/bun');

interface Totals {
  passed: number;
  failed: number;
  skipped: number;
}
const totals: Totals = { passed: 0, failed: 0, skipped: 0 };

function run(label: string, command: string, args: string[]): void {
  const report = join(out, `${label}.json`);
  console.log(`\n=== ${label}: ${[command, ...args].join(' ')}`);
  const result = spawnSync(command, [...args, '--reporter=default', '--reporter=json', `--outputFile.json=${report}`], {
    cwd: root,
    stdio: 'inherit',
  });
  let counted = false;
  try {
    const json = JSON.parse(readFileSync(report, 'utf8')) as {
      numPassedTests: number;
      numFailedTests: number;
      numPendingTests: number;
      numTodoTests: number;
    };
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

/** The x64 binary, built before the Node stage so its tests of the compiled binary (watchdog) run too. */
function buildBinary(): boolean {
  console.log('\n=== build: the x64 device binary');
  const build = spawnSync(bun, ['scripts/build-binary.ts', '--arch', 'x64'], { cwd: root, stdio: 'inherit' });
  if (build.status === 0) return true;
  console.log(`build: the binary did not build (exit ${build.status})`);
  totals.failed += 1;
  return false;
}

function runHil(): void {
  console.log('\n=== hil: every scenario against the compiled binary');
  const summary = join(out, 'hil.json');
  const result = spawnSync(
    process.execPath,
    [
      'src/hil/bin.mjs',
      'run',
      '--target',
      'binary',
      '--timeout-s',
      '1200',
      '--junit',
      'out/hil/junit.xml',
      '--json',
      summary,
    ],
    { cwd: root, stdio: 'inherit' },
  );
  try {
    const { totals: hil } = JSON.parse(readFileSync(summary, 'utf8')) as {
      totals: { passed: number; failed: number; error: number; skipped: number };
    };
    totals.passed += hil.passed;
    totals.failed += hil.failed + hil.error;
    totals.skipped += hil.skipped;
  } catch {
    console.log(`hil: the runner failed (exit ${result.status}, signal ${result.signal}) without a usable report`);
    totals.failed += 1;
  }
}

/**
 * The second builds the ota-* scenarios install (another version number; two with a fault built in). Without them
 * those scenarios skip. A failed build is counted and the HIL stage runs anyway (the scenarios say what is missing).
 */
function buildHilBinaries(): void {
  for (const { version, suffix, faults } of Object.values(HIL_BUILDS)) {
    console.log(`\n=== build: the x64 HIL test build ${version}`);
    const args = ['scripts/build-binary.ts', '--arch', 'x64', '--version', version, '--out-suffix', suffix];
    const build = spawnSync(bun, faults ? [...args, '--hil-faults', faults] : args, { cwd: root, stdio: 'inherit' });
    if (build.status === 0) continue;
    console.log(`build: the HIL test build ${version} did not build (exit ${build.status})`);
    totals.failed += 1;
  }
}

const filtered = process.argv.length > 2;
const built = !filtered && buildBinary();
run('node', process.execPath, [vitest, 'run', ...process.argv.slice(2)]);
if (!filtered) {
  run('bun', bun, ['--bun', vitest, 'run']);
  if (built) {
    buildHilBinaries();
    runHil();
  }
}

console.log(`\n${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(totals.failed > 0 ? 1 : 0);
