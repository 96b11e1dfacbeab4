/**
 * A release that fails its trial is rolled back by the launcher, not by itself: one build crashes at every start
 * (3 starts, then START_FAILED), another runs but never gets online (the launcher's timer stops it,
 * TRIAL_TIMEOUT). Each time the old version comes back, reports `rolled-back` with the reason, and keeps its data.
 */
import { checkEqual } from '../scenario-kit/errors.js';
import { expectAllDelivered, produceBatch } from '../scenario-kit/telemetry.js';
import type { Scenario, ScenarioContext } from '../scenario-kit/types.js';
import {
  testBuild,
  bundleDir,
  HIL_BUILDS,
  type HilBuild,
  makeBundle,
  offerUpdate,
  pairAndRunThroughLauncher,
  requireLauncherTarget,
  waitUpdateState,
} from '../scenario-kit/updates.js';

async function rollBack(ctx: ScenarioContext, build: HilBuild, reason: string, workDir: string): Promise<void> {
  const { version } = HIL_BUILDS[build];
  const bundle = await makeBundle(ctx, testBuild(ctx, build), version, { workDir });
  const status = await ctx.device.status();
  const oldVersion = String((status as { version?: unknown } | null)?.version ?? '');
  const campaignId = await offerUpdate(ctx, bundle);
  const seen: string[] = [];
  const done = await waitUpdateState(ctx, campaignId, ['succeeded', 'failed', 'rolled-back'], 480_000, seen);
  ctx.figure(`${build}States`, seen.join(' → '));
  checkEqual(done.state, 'rolled-back', `the ${build} build's final state (seen: ${seen.join(' → ')})`);
  checkEqual(done.reason?.code, reason, `why the ${build} build was rolled back`);
  if (oldVersion) checkEqual(done.runningVersion, oldVersion, 'the version running after the rollback');
}

export const otaRollback: Scenario = {
  id: 'ota-rollback',
  title:
    'a release that crashes at start, and one that never gets online: back on the old version, rolled-back reported',
  timeoutS: 1200,
  requires: { capabilities: ['telemetry'], ownCloud: true, ownSiteServer: true },
  async run(ctx) {
    requireLauncherTarget(ctx);
    const workDir = bundleDir(ctx);
    await pairAndRunThroughLauncher(ctx);
    const before = await produceBatch(ctx, 30, 'before-rollback');
    await rollBack(ctx, 'crash', 'START_FAILED', workDir);
    await rollBack(ctx, 'offline', 'TRIAL_TIMEOUT', workDir);
    const after = await produceBatch(ctx, 30, 'after-rollback');
    ctx.figure('seqBeforeAfter', `${before}/${after}`);
    await expectAllDelivered(ctx, after, 120_000);
  },
};
