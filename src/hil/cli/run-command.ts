/**
 * `consystence-hil run`: flags → plan → run → reports → exit code. Ctrl-C (SIGINT) or SIGTERM stops the run: the
 * running scenario is an `<error>`, its bed is torn down, the rest are skipped, the reports are written and the
 * exit code is 128 + the signal's number (130, 143); a second signal exits at once.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { toJsonSummary } from '../report/json.js';
import { toJUnitXml } from '../report/junit.js';
import { totals, type RunReport } from '../report/types.js';
import { type RunOptions, runPlanned } from '../runner/runner.js';
import { describeScenarios, type Planned, selectScenarios, SelectionError } from '../runner/select.js';
import { SCENARIOS } from '../scenarios/index.js';
import { identifyDevice } from '../targets/identify.js';
import { type TargetConfig, type TargetFactory, targetFactory } from '../targets/index.js';
import { HilExit } from './exit-codes.js';
import { parseRunArgs, RUN_USAGE, type RunArgs, UsageError } from './run-args.js';
import { stopOnSignal, type StopOnSignal } from './stop-on-signal.js';

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export function writeReport(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

export async function runCommand(argv: string[], io: Io): Promise<number> {
  const plan = parsePlan(argv, io);
  if (typeof plan === 'number') return plan;
  const { args, planned } = plan;
  const stop = stopOnSignal((signal) =>
    io.stderr(
      `${signal}: stopping the run (device, namespaces, work dirs), then writing the reports… (again to exit at once)\n`,
    ),
  );
  try {
    return await runSelected(args, planned, io, stop);
  } finally {
    stop.dispose();
  }
}

async function runSelected(args: RunArgs, planned: Planned[], io: Io, stop: StopOnSignal): Promise<number> {
  const targetConfig = targetConfigFor(args, stop.signal);
  const targetDescription = describeTarget(args);
  const started = Date.now();
  // Every way out from here writes the reports: a CI reading an old or missing JUnit file would trust nothing.
  const writeReports = (report: RunReport) => {
    if (args.junit) writeReport(args.junit, toJUnitXml(report));
    if (args.json) writeReport(args.json, `${JSON.stringify(toJsonSummary(report), null, 2)}\n`);
  };
  const rigError = (id: string, title: string, error: unknown): RunReport =>
    rigErrorReport({ target: args.target, targetDescription, started }, { id, title, error });

  let factory;
  let device;
  try {
    factory = targetFactory(targetConfig);
    device = await identifyDevice(targetConfig);
  } catch (error) {
    io.stderr(`consystence-hil run: ${(error as Error).message}\n`);
    writeReports(rigError('device-start', 'the rig starts the device under test', error));
    return HilExit.SETUP;
  }
  io.stderr(
    `consystence-hil: ${planned.length} scenario run(s) against ${targetDescription} (version ${device.version}${device.arch ? `, ${device.arch}` : ''})\n`,
  );

  let report: RunReport;
  try {
    report = await runPlanned(planned, { ...runOptionsFor(args, factory, targetDescription, io), stop: stop.signal });
  } catch (error) {
    writeReports({ ...rigError('run', 'the rig runs the planned scenarios', error), device });
    throw error;
  }
  report.device = device;
  writeReports(report);
  const code = printSummary(report, io);
  return stop.exitCode() ?? code;
}

/** The flags and the scenarios they select, or the exit code when there is nothing to run (help, list, misuse). */
function parsePlan(argv: string[], io: Io): { args: RunArgs; planned: Planned[] } | number {
  try {
    const args = parseRunArgs(argv);
    if (args.help) {
      io.stdout(`${RUN_USAGE}\n`);
      return HilExit.OK;
    }
    if (args.list) {
      io.stdout(`${describeScenarios(SCENARIOS)}\n`);
      return HilExit.OK;
    }
    const planned = selectScenarios(SCENARIOS, args.only, args.repeat);
    if (args.injectFailure && !planned.some((p) => p.scenario.id === args.injectFailure))
      throw new UsageError(`--inject-failure ${args.injectFailure} is not among the selected scenarios`);
    return { args, planned };
  } catch (error) {
    if (error instanceof UsageError || error instanceof SelectionError) {
      io.stderr(`consystence-hil run: ${error.message}\n${RUN_USAGE}\n`);
      return HilExit.USAGE;
    }
    throw error;
  }
}

/** `stop`: aborted when the run is stopped, so a running hook is stopped with it. */
function targetConfigFor(args: RunArgs, stop: AbortSignal): TargetConfig {
  return {
    kind: args.target,
    remoteStateDir: args.remoteStateDir,
    ...(args.binary ? { binary: args.binary } : {}),
    ...(args.remoteCmd ? { remoteCmd: args.remoteCmd } : {}),
    ...(args.remoteHost ? { remoteHost: args.remoteHost } : {}),
    hooks: {
      timeoutMs: args.hookTimeoutS * 1000,
      signal: stop,
      ...(args.powerCycleCmd ? { powerCycle: args.powerCycleCmd } : {}),
      ...(args.netDownCmd ? { netDown: args.netDownCmd } : {}),
      ...(args.netUpCmd ? { netUp: args.netUpCmd } : {}),
    },
  };
}

function describeTarget(args: RunArgs): string {
  if (args.target === 'remote') return `remote: ${args.remoteCmd}`;
  return args.binary ? `${args.target}: ${args.binary}` : args.target;
}

function runOptionsFor(args: RunArgs, factory: TargetFactory, targetDescription: string, io: Io): RunOptions {
  return {
    targetKind: args.target,
    factory,
    targetDescription,
    budgetMs: args.timeoutS * 1000,
    host: args.host,
    netHooks: !!(args.netDownCmd && args.netUpCmd),
    keepWorkDirs: args.keep,
    bundleDir: bundleDirFor(args.junit ?? args.json),
    ...(args.publicHost ? { publicHost: args.publicHost } : {}),
    ...(args.cloudUrl ? { cloudUrl: args.cloudUrl } : {}),
    ...(args.siteUrl ? { siteUrl: args.siteUrl } : {}),
    ...(args.org ? { orgId: args.org } : {}),
    ...(args.injectFailure ? { injectFailure: args.injectFailure } : {}),
    progress: (line) => io.stderr(`${line}\n`),
  };
}

/** A report of one rig error, for a run that broke before its scenarios could report. */
function rigErrorReport(
  run: { target: RunArgs['target']; targetDescription: string; started: number },
  failure: { id: string; title: string; error: unknown },
): RunReport {
  const { target, targetDescription, started } = run;
  const error = failure.error as Error;
  return {
    target,
    targetDescription,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    results: [
      {
        id: failure.id,
        title: failure.title,
        iteration: 1,
        outcome: 'error',
        message: error.message,
        errorType: error.name,
        durationMs: Date.now() - started,
        figures: {},
        notes: [],
      },
    ],
  };
}

/** The totals and what was skipped or ran only in part; the exit code says whether anything failed. */
function printSummary(report: RunReport, io: Io): number {
  const t = totals(report);
  io.stdout(
    `${t.passed} passed, ${t.failed} failed, ${t.error} errors, ${t.skipped} skipped, ${t.partial} ran only in part (${(report.durationMs / 1000).toFixed(1)} s)\n`,
  );
  for (const skipped of report.results.filter((r) => r.outcome === 'skipped'))
    io.stdout(`  skipped ${skipped.id}: ${skipped.message}\n`);
  for (const part of report.results.filter((r) => r.partial?.length))
    io.stdout(`  only in part ${part.id}: ${part.partial!.join('; ')}\n`);
  return t.failed + t.error > 0 ? HilExit.FAILED : HilExit.OK;
}

/** Support bundles of failed scenarios go next to the report, else to a new folder in the temp dir. */
function bundleDirFor(report: string | undefined): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return report
    ? join(dirname(resolve(report)), `support-bundles-${stamp}`)
    : join(tmpdir(), `consystence-hil-support-bundles-${stamp}`);
}
