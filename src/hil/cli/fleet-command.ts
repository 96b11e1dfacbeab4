/**
 * `consystence-hil fleet`: flags → simulation → a readable summary on stdout and the JSON report. Ctrl-C
 * (SIGINT) and SIGTERM abort the run: the simulator's cleanup stops the workers, the site server and the cloud
 * before the command returns; a second signal exits at once (stop-on-signal.ts).
 */
import { runFleet } from '../fleet/simulator.js';
import { HilExit } from './exit-codes.js';
import { FLEET_USAGE, parseFleetArgs } from './fleet-args.js';
import { formatFleet } from './fleet-format.js';
import { toJUnitXml } from '../report/junit.js';
import { fleetRunReport, fleetTargets } from '../fleet/targets.js';
import { UsageError } from './run-args.js';
import { stopOnSignal } from './stop-on-signal.js';
import { writeReport, type Io } from './run-command.js';

export async function fleetCommand(argv: string[], io: Io): Promise<number> {
  let args;
  try {
    args = parseFleetArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`consystence-hil fleet: ${error.message}\n${FLEET_USAGE}\n`);
    return HilExit.USAGE;
  }
  if (args.help) {
    io.stdout(`${FLEET_USAGE}\n`);
    return HilExit.OK;
  }
  const startedAt = new Date().toISOString();
  const started = Date.now();
  const writeJUnit = (outcome: Parameters<typeof fleetRunReport>[0]) => {
    if (args.junit) writeReport(args.junit, toJUnitXml(fleetRunReport(outcome, startedAt, Date.now() - started)));
  };
  const stop = stopOnSignal((signal) =>
    io.stderr(`${signal}: stopping the fleet (workers, site server, cloud)… (again to exit at once)\n`),
  );
  try {
    const report = await runFleet({
      ...args,
      devices: args.devices!,
      signal: stop.signal,
      progress: (line) => io.stderr(`${line}\n`),
    });
    const targets = fleetTargets(report, args.settleTimeoutS);
    io.stdout(formatFleet(report, targets));
    if (args.json) writeReport(args.json, `${JSON.stringify({ ...report, targets }, null, 2)}\n`);
    writeJUnit({ report, targets });
    return report.ok && targets.every((t) => t.met) ? HilExit.OK : HilExit.FAILED;
  } catch (error) {
    // A phase that could not finish (timeout, abort, a worker that died): no figures worth reporting.
    io.stderr(`consystence-hil fleet: ${(error as Error).message}\n`);
    writeJUnit({ error: error as Error });
    return HilExit.FAILED;
  } finally {
    stop.dispose();
  }
}
