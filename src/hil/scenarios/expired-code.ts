/**
 * An expired pairing code (the technician waited too long): the cloud's clock is moved past the code's
 * expiry; the device must refuse with exit 3, say the code is invalid or expired, and save nothing.
 */
import { check, checkEqual } from '../scenario-kit/errors.js';
import { describeResult, EDGE_EXIT, deviceStatus } from '../scenario-kit/steps.js';
import type { Scenario } from '../scenario-kit/types.js';

export const expiredCode: Scenario = {
  id: 'expired-code',
  title: 'an expired pairing code is refused clearly and nothing is saved',
  timeoutS: 90,
  async run(ctx) {
    const code = await ctx.cloud.admin.createPairingCode(ctx.site.orgId, ctx.site.siteId, {
      edgeId: ctx.edgeId,
      ttlSeconds: 60,
    });
    // Two minutes later for the cloud; the device corrects its own clock from the cloud's answers anyway.
    await ctx.cloud.admin.setClock(120);
    ctx.defer(() => ctx.cloud.admin.setClock(0));

    const result = await ctx.device.pair(code.pairingUri, { edgeId: ctx.edgeId });
    ctx.figure('exitCode', result.code);
    checkEqual(result.code, EDGE_EXIT.CLOUD_REFUSED, `pair exit code with an expired code (${describeResult(result)})`);
    check(
      /expired|invalid|not valid/i.test(result.stderr + result.stdout),
      `the message should say the code is invalid or expired: ${describeResult(result)}`,
    );
    const status = await deviceStatus(ctx);
    checkEqual(status.edgeId, null, 'status --json edgeId after a refused pairing');
    const edges = await ctx.cloud.admin.listEdges(ctx.site.orgId, ctx.site.siteId);
    check(!edges.some((e) => e.edgeId === ctx.edgeId), 'the cloud should have no registration for the device');
  },
};
