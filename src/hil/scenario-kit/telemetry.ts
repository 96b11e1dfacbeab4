/**
 * Telemetry for the `seq` checks: hand the device numbered records through its producer API (it answers with
 * the seqs once committed), then read the site server's seq book. A device that loses, duplicates or reorders
 * beyond repair shows up as missing seqs or a last seq behind what the device said it committed.
 */
import { waitUntil } from '../util/wait.js';
import { checkEqual } from './errors.js';
import type { ScenarioContext } from './types.js';

/** Hands the device `count` records, one envelope each; returns the device's last seq. */
export async function produceBatch(ctx: ScenarioContext, count: number, label: string): Promise<number> {
  ctx.signal.throwIfAborted();
  const { lastSeq } = await ctx.device.produce({ tag: `hil.${label}`, count });
  ctx.signal.throwIfAborted();
  return lastSeq;
}

/** Waits until the site server has every seq up to `lastSeq` and no gap; records the figures. */
export async function expectAllDelivered(ctx: ScenarioContext, lastSeq: number, timeoutMs = 60_000): Promise<void> {
  const book = await waitUntil(
    async () => {
      const gaps = await ctx.site.control.gaps(ctx.edgeId);
      return gaps.lastSeq >= lastSeq && gaps.missing === 0 ? gaps : null;
    },
    {
      timeoutMs,
      what: `the site server to hold every seq up to ${lastSeq} with no gaps`,
      signal: ctx.signal,
      intervalMs: 250,
    },
  ).catch(async (error: Error) => {
    const gaps = await ctx.site.control.gaps(ctx.edgeId);
    ctx.figure('lastSeqAtSite', gaps.lastSeq);
    ctx.figure('missing', gaps.missing);
    throw Object.assign(error, {
      message: `${error.message}; the site server has lastSeq ${gaps.lastSeq}, missing ${gaps.missing} (${JSON.stringify(gaps.data.slice(0, 5))})`,
    });
  });
  ctx.figure('lastSeq', book.lastSeq);
  ctx.figure('missing', book.missing);
  checkEqual(book.missing, 0, 'seqs missing at the site server');
}
