/**
 * A cloud 503 storm during pairing, each answer with Retry-After: the device must keep retrying, honour the
 * Retry-After (so it waits at least that long in total) and pair once the storm passes.
 */
import { check, checkEqual } from '../scenario-kit/errors.js';
import { deviceStatus, describeResult, EDGE_EXIT, mintPairingUri } from '../scenario-kit/steps.js';
import type { Scenario } from '../scenario-kit/types.js';

const STORM = 3;
const RETRY_AFTER_S = 1;

export const cloud503Storm: Scenario = {
  id: 'cloud-503-storm',
  title: 'a 503 storm with Retry-After during pairing is ridden out',
  timeoutS: 120,
  async run(ctx) {
    const uri = await mintPairingUri(ctx);
    await ctx.cloud.admin.faults.set({
      type: 'status',
      route: 'POST /api/organisations/*/sites/*/register-edge',
      status: 503,
      times: STORM,
      retryAfterSeconds: RETRY_AFTER_S,
      code: 'UNAVAILABLE',
    });
    ctx.defer(async () => {
      await ctx.cloud.admin.faults.reset();
    });

    const result = await ctx.device.pair(uri, { edgeId: ctx.edgeId, maxAttempts: STORM + 3 });
    ctx.figure('pairMs', result.durationMs);
    checkEqual(result.code, EDGE_EXIT.OK, `pair through the storm (${describeResult(result)})`);
    const armed = await ctx.cloud.admin.faults.get();
    checkEqual(armed.pending.length, 0, 'unconsumed 503 answers (the device must have met all of them)');
    // Honouring Retry-After is a lower bound on the waiting, not a speed claim.
    check(
      result.durationMs >= STORM * RETRY_AFTER_S * 1000 * 0.9,
      `the device paired after ${result.durationMs} ms: it cannot have waited Retry-After (${RETRY_AFTER_S} s) after each of ${STORM} 503s`,
    );
    const status = await deviceStatus(ctx);
    checkEqual(status.edgeId, ctx.edgeId, 'status --json edgeId');
  },
};
