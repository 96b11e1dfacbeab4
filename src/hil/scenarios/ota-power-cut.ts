/**
 * Power cuts during an update (SIGKILL locally, the rig's relay on hardware), repeated across the whole job: the
 * first while the (paced) download runs, the others at random moments after each boot (verified, installing, right
 * after the link swap, trial). After each one the device boots through the launcher into the old or the new version,
 * never a broken one, and comes back online. At most one cut lands on a start of the trial: three starts without a
 * commit roll back by design (ota-rollback proves that), so here the job must end `succeeded`; one more cut after
 * the commit must keep the new version. No seq is lost.
 */
import { statSync } from 'node:fs';
import { checkEqual } from '../scenario-kit/errors.js';
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

const CUTS = 4;
const FINAL = ['succeeded', 'failed', 'rolled-back'];
/** States in which a cut costs the launcher's trial a start (`update/trial` is written before `restarting`). */
const TRIAL_STATES = ['restarting', 'trial'];
/** The artifact is paced to take about this long, so the first cut lands in `downloading`. */
const DOWNLOAD_SECONDS = 8;

export const otaPowerCut: Scenario = {
  id: 'ota-power-cut',
  title:
    'power cuts across an update, repeated, and one after the commit: always the old or the new version, no seq lost',
  timeoutS: 1200,
  requires: { capabilities: ['powerCut', 'telemetry'], ownCloud: true, ownSiteServer: true },
  async run(ctx) {
    requireLauncherTarget(ctx);
    const { version } = HIL_BUILDS.update;
    const bundle = await makeBundle(ctx, testBuild(ctx, 'update'), version, { workDir: bundleDir(ctx) });
    await pairAndRunThroughLauncher(ctx);
    let lastSeq = await produceBatch(ctx, 30, 'before-update');
    await ctx.site.control.artifactFault({ bytesPerSecond: Math.ceil(statSync(bundle).size / DOWNLOAD_SECONDS) });
    const campaignId = await offerUpdate(ctx, bundle);

    const powerCut = async (label: string): Promise<void> => {
      await ctx.device.kill();
      const booted = Date.now();
      await ctx.device.start({ throughLauncher: true });
      await waitPresence(ctx, 'online', { timeoutMs: 120_000, sinceMs: booted - 1000 });
      lastSeq = await produceBatch(ctx, 10, `after-${label}`);
    };

    const cutAt: string[] = [];
    await waitUpdateState(ctx, campaignId, ['downloading', ...FINAL], 120_000);
    for (let cut = 1; cut <= CUTS; cut++) {
      // The first cut lands in the paced download; the others after a random 0–3 s of each boot.
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * (cut === 1 ? 2000 : 3000))));
      const state = (await edgeUpdate(ctx, campaignId))?.state ?? 'unknown';
      if (FINAL.includes(state)) break;
      if (TRIAL_STATES.includes(state) && cutAt.some((s) => TRIAL_STATES.includes(s))) continue;
      cutAt.push(state);
      ctx.note(`power cut ${cut} during ${state}`);
      await powerCut(`cut-${cut}`);
      // Unpaced after the first cut, so the later ones land past the download too.
      if (cut === 1) await ctx.site.control.artifactFault({});
    }
    ctx.figure('cutDuring', cutAt.join(', '));
    const done = await waitUpdateState(ctx, campaignId, FINAL, 600_000);
    ctx.figure('finalState', done.state);
    checkEqual(done.state, 'succeeded', `the job's end after power cuts (${done.reason?.code ?? ''})`);

    await powerCut('commit');
    // `status` runs the packaged CLI (its own version); the launcher starts what `releases/current` names.
    const status = (await ctx.device.status()) as { update?: { current?: unknown } | null } | null;
    checkEqual(status?.update?.current, version, 'releases/current after a power cut that followed the commit');
    await expectAllDelivered(ctx, lastSeq, 120_000);
  },
};
