/**
 * The site server's listener cuts the artifact download part-way (its artifact fault): the device resumes with
 * `Range` from the bytes it has, not from zero, and the update completes.
 */
import { check, checkEqual } from '../scenario-kit/errors.js';
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
import { waitUntil } from '../util/wait.js';

const CUT_AFTER_BYTES = 8 * 1024 * 1024;
const BEFORE_DOWNLOADED = ['pending', 'offered', 'downloading'];

export const otaInterruptedDownload: Scenario = {
  id: 'ota-interrupted-download',
  title: "the site server's listener drops the download mid-way: the device resumes from its offset, not from zero",
  timeoutS: 600,
  requires: { ownCloud: true, ownSiteServer: true },
  async run(ctx) {
    requireLauncherTarget(ctx);
    const bundle = await makeBundle(ctx, testBuild(ctx, 'update'), HIL_BUILDS.update.version, {
      workDir: bundleDir(ctx),
    });
    await pairAndRunThroughLauncher(ctx);
    await ctx.site.control.artifactFault({ dropAfterBytes: CUT_AFTER_BYTES, mode: 'once' });
    const campaignId = await offerUpdate(ctx, bundle);
    // Progress never goes below the cut once the device has it: a restart from zero would show a smaller count.
    let highest = 0;
    let wentBack = false;
    await waitUntil(
      async () => {
        const progress = await edgeUpdate(ctx, campaignId);
        const bytes = progress?.progress?.bytes ?? 0;
        if (bytes < highest && progress?.state === 'downloading') wentBack = true;
        highest = Math.max(highest, bytes);
        // `pending` is the site server's view before the device's first report: not yet downloading.
        return progress && !BEFORE_DOWNLOADED.includes(progress.state) ? progress : null;
      },
      { timeoutMs: 300_000, what: 'the download to finish', signal: ctx.signal, intervalMs: 200 },
    );
    check(!wentBack, 'the download progress went back after the cut: it restarted from zero');
    ctx.figure('highestReportedBytes', highest);
    // The site server's own count: a resume adds only the missing bytes, a restart from zero the whole artifact.
    const traffic = await ctx.site.control.artifactTraffic();
    const size = (await ctx.site.control.updates()).find((c) => c.id === campaignId)?.size ?? 0;
    ctx.figure('servedBytes', `${traffic.servedBytes} of ${size} (cut ${traffic.dropped}×)`);
    checkEqual(traffic.dropped, 1, 'downloads cut by the site server');
    check(
      traffic.servedBytes < size * 1.3,
      `the site server served ${traffic.servedBytes} bytes for a ${size}-byte artifact: the device did not resume`,
    );
    const done = await waitUpdateState(ctx, campaignId, ['succeeded', 'failed', 'rolled-back'], 300_000);
    checkEqual(done.state, 'succeeded', 'the final state after a cut download');
  },
};
