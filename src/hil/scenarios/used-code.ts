/**
 * A pairing code that another device already used: the device must refuse with a plain message (exit 3,
 * "already used"), and save nothing, so the next attempt with a fresh code is a normal first pairing.
 */
import { randomUUID } from 'node:crypto';
import { generateKeyPair, exportJWK } from 'jose';
import { check, checkEqual } from '../scenario-kit/errors.js';
import { describeResult, EDGE_EXIT, deviceStatus, pairDevice } from '../scenario-kit/steps.js';
import type { Scenario } from '../scenario-kit/types.js';

export const usedCode: Scenario = {
  id: 'used-code',
  title: 'a used pairing code is refused clearly and nothing is saved',
  timeoutS: 90,
  async run(ctx) {
    const code = await ctx.cloud.admin.createPairingCode(ctx.site.orgId, ctx.site.siteId, {});
    // "Another device" uses the code first, straight through the cloud API, as a second technician would.
    const { publicKey } = await generateKeyPair('ES256', { extractable: true });
    await ctx.cloud.admin.registerEdge(
      ctx.site.orgId,
      ctx.site.siteId,
      {
        edgeId: `${ctx.edgeId}-other`,
        hardwareId: 'a'.repeat(64),
        version: '0.0.0-hil',
        hostname: 'other-device',
        publicKey: (await exportJWK(publicKey)) as never,
      },
      { idempotencyKey: randomUUID(), pairingCode: code.code },
    );

    const result = await ctx.device.pair(code.pairingUri, { edgeId: ctx.edgeId });
    ctx.figure('exitCode', result.code);
    checkEqual(result.code, EDGE_EXIT.CLOUD_REFUSED, `pair exit code with a used code (${describeResult(result)})`);
    check(
      /already used/i.test(result.stderr + result.stdout),
      `the message should say the code was already used: ${describeResult(result)}`,
    );
    check(
      /ask for a new|new (pairing )?code/i.test(result.stderr + result.stdout),
      `the message should say what to do (ask for a new code): ${describeResult(result)}`,
    );

    const status = await deviceStatus(ctx);
    check(
      status.state === 'unpaired' || status.state === 'pairing',
      `nothing should be saved: status is ${JSON.stringify(status.state)}`,
    );
    checkEqual(status.edgeId, null, 'status --json edgeId after a refused pairing');
    // Nothing is left half-done: a fresh code pairs normally.
    await pairDevice(ctx);
  },
};
