/**
 * Power cuts during an update (SIGKILL locally, the rig's relay on hardware), at random moments of the job,
 * repeated: after each one the device boots through the launcher into the old or the new version, never a broken
 * one, and comes back online; the job ends `succeeded` (or `rolled-back`, never stuck) and no seq is lost.
 */
import { check } from '../scenario-kit/errors.js';
import { expectAllDelivered, produceBatch } from '../scenario-kit/telemetry.js';
import type { Scenario } from '../scenario-kit/types.js';
import {
  testBuild,
  bundleDir,
  edgeUpdate,
  HIL_BUILDS,
  makeBundle,
  offerUpdate,
  pairAndRunThroughLauncher,
  requireLauncherTarget,
  waitUpdateState,
} from '../scenario-kit/updates.js';
import { waitPresence } from '../scenario-kit/steps.js';
import { waitUntil } from '../util/wait.js';

const CUTS = 4;
const FINAL = ['succeeded', 'failed', 'rolled-back'];

export const otaPowerCut: Scenario = {
  id: 'ota-power-cut',
  title: 'power cut at random points of an update, repeated: always the old or the new version, no seq lost',
  timeoutS: 1200,
  requires: { capabilities: ['powerCut', 'telemetry'], ownCloud: true, ownSiteServer: true },
  async run(ctx) {
    requireLauncherTarget(ctx);
    const { version } = HIL_BUILDS.update;
    const bundle = await makeBundle(ctx, testBuild(ctx, 'update'), version, { workDir: bundleDir(ctx) });
    await pairAndRunThroughLauncher(ctx);
    let lastSeq = await produceBatch(ctx, 30, 'before-update');
    const campaignId = await offerUpdate(ctx, bundle);

    const cutAt: string[] = [];
    for (let cut = 1; cut <= CUTS; cut++) {
      // Wait until the job has moved on since the last cut, then cut after a random 0–3 s.
      const progress = await waitUntil(() => edgeUpdate(ctx, campaignId), {
        timeoutMs: 120_000,
        what: 'a report of the update job',
        signal: ctx.signal,
        intervalMs: 200,
      });
      if (FINAL.includes(progress.state)) break;
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 3000)));
      const state = (await edgeUpdate(ctx, campaignId))?.state ?? 'unknown';
      await ctx.device.kill();
      cutAt.push(state);
      ctx.note(`power cut ${cut} during ${state}`);
      const booted = Date.now();
      await ctx.device.start({ throughLauncher: true });
      await waitPresence(ctx, 'online', { timeoutMs: 120_000, sinceMs: booted - 1000 });
      lastSeq = await produceBatch(ctx, 10, `after-cut-${cut}`);
    }
    ctx.figure('cutDuring', cutAt.join(', '));
    const done = await waitUpdateState(ctx, campaignId, FINAL, 600_000);
    ctx.figure('finalState', done.state);
    check(
      done.state === 'succeeded' || done.state === 'rolled-back',
      `the job must end succeeded or rolled-back after power cuts, not ${done.state} (${done.reason?.code ?? ''})`,
    );
    const status = (await ctx.device.status()) as { version?: unknown } | null;
    check(
      status?.version === version || status?.version === done.runningVersion,
      `the device runs ${String(status?.version)}, neither the new version nor the one it reported`,
    );
    await expectAllDelivered(ctx, lastSeq, 120_000);
  },
};
