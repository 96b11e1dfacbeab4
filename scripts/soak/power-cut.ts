/**
 * The long power-cut run: the same harness as test/e2e/power-cut, for as many trials as asked.
 *
 *   npx tsx scripts/soak/power-cut.ts [--trials N (500)] [--seed S]
 *
 * Prints one line per trial and exits 0 only when every check passed (the problems are listed otherwise).
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { runPowerCutTrials } from '../../test/e2e/power-cut/harness.js';

const Flags = z.object({
  trials: z.coerce.number().int().min(1).max(100_000).default(500),
  seed: z.coerce
    .number()
    .int()
    .min(0)
    .default(() => Date.now()),
});

async function main(): Promise<number> {
  let flags: z.infer<typeof Flags>;
  try {
    const { values } = parseArgs({ options: { trials: { type: 'string' }, seed: { type: 'string' } }, strict: true });
    flags = Flags.parse(values);
  } catch (error) {
    process.stderr.write(
      `power-cut: ${(error as Error).message}\nusage: npx tsx scripts/soak/power-cut.ts [--trials N] [--seed S]\n`,
    );
    return 2;
  }
  process.stdout.write(`power-cut soak: ${flags.trials} trials, seed ${flags.seed}\n`);
  const report = await runPowerCutTrials({
    trials: flags.trials,
    seed: flags.seed,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  const failed = report.trials.filter((t) => !t.ok).length;
  process.stdout.write(
    `\n${report.trials.length} trials, ${failed} failed; ${report.ackedSeqs} acknowledged envelopes, ${report.received} messages received\n`,
  );
  for (const problem of report.problems) process.stdout.write(`PROBLEM: ${problem}\n`);
  return report.problems.length === 0 && failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`power-cut: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
