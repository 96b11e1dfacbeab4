/**
 * Power cuts of the real edge process (issue 5 §3): POWER_CUT_TRIALS (default 50) SIGKILLs at random moments of
 * pairing, producer bursts, drains, config applies and token refreshes, one printed line per trial, then the
 * delivery, seq and registration checks of the harness. Longer runs: `npx tsx scripts/soak/power-cut.ts --trials N`.
 */
import { expect, it } from 'vitest';
import { runPowerCutTrials } from './harness.js';

const TRIALS = Number(process.env.POWER_CUT_TRIALS ?? 50);
const SEED = Number(process.env.POWER_CUT_SEED ?? Date.now());

it(
  `survives ${TRIALS} SIGKILLs of the edge process (seed ${SEED})`,
  async () => {
    // Printed so a failing run can be repeated exactly: POWER_CUT_SEED=<seed>.
    process.stdout.write(`power-cut harness: ${TRIALS} trials, seed ${SEED}\n`);
    const report = await runPowerCutTrials({
      trials: TRIALS,
      seed: SEED,
      log: (line) => process.stdout.write(`${line}\n`),
    });
    process.stdout.write(
      `power-cut harness: ${report.ackedSeqs} acknowledged envelopes, ${report.received} messages received by the site server\n`,
    );
    expect(report.problems).toEqual([]);
    expect(report.trials.filter((t) => !t.ok)).toEqual([]);
    expect(report.trials.length).toBe(TRIALS);
    // The harness must have exercised something: acknowledged data and more than one phase.
    expect(report.ackedSeqs).toBeGreaterThan(0);
    expect(new Set(report.trials.map((t) => t.phase)).size).toBeGreaterThan(2);
  },
  15 * 60_000,
);
