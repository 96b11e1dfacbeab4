/**
 * The operator's path end to end: a second build is released, approved for the edge, downloaded from the site
 * server, installed, and after exit 75 the launcher starts it on trial; it commits and reports `succeeded` as the
 * new version. Data is continuous: every seq handed over before, during and after the update reaches the site.
 * The batch "during" starts once the old version exits for the restart: the producer retries while the device's
 * socket is absent (as a real producer does), and the outbox carries what was accepted across the switch.
 */
import { checkEqual } from '../scenario-kit/errors.js';
import { expectAllDelivered, produceBatch } from '../scenario-kit/telemetry.js';
import type { Scenario } from '../scenario-kit/types.js';
import {
  testBuild,
  bundleDir,
  HIL_BUILDS,
  makeBundle,
  offerUpdate,
  pairAndRunThroughLauncher,
  requireLauncherTarget,
  waitUpdateState,
} from '../scenario-kit/updates.js';

export const otaUpdate: Scenario = {
  id: 'ota-update',
  title:
    'an approved update: downloaded, installed, restarted on trial, committed; the new version reports, no seq lost',
  timeoutS: 600,
  requires: { capabilities: ['telemetry'], ownCloud: true, ownSiteServer: true },
  async run(ctx) {
    requireLauncherTarget(ctx);
    const binary = testBuild(ctx, 'update');
    const { version } = HIL_BUILDS.update;
    const bundle = await makeBundle(ctx, binary, version, { workDir: bundleDir(ctx) });
    await pairAndRunThroughLauncher(ctx);
    const before = await produceBatch(ctx, 50, 'before-update');

    const campaignId = await offerUpdate(ctx, bundle);
    const seen: string[] = [];
    await waitUpdateState(ctx, campaignId, ['restarting', 'trial', 'succeeded'], 180_000, seen);
    const during = await produceBatch(ctx, 50, 'during-update');
    const done = await waitUpdateState(ctx, campaignId, ['succeeded', 'failed', 'rolled-back'], 400_000, seen);
    ctx.figure('updateStates', seen.join(' → '));
    checkEqual(done.state, 'succeeded', `the update's final state (seen: ${seen.join(' → ')})`);
    checkEqual(done.runningVersion, version, 'the version running after the update');

    const after = await produceBatch(ctx, 50, 'after-update');
    ctx.figure('seqBeforeDuringAfter', `${before}/${during}/${after}`);
    await expectAllDelivered(ctx, after, 120_000);
  },
};
