/**
 * A correctly signed release for another architecture (an x64 binary released as arm64) is refused by the
 * device before anything is written: `failed` with WRONG_ARCH, the same version still running and online.
 */
import { checkEqual } from '../scenario-kit/errors.js';
import { waitPresence } from '../scenario-kit/steps.js';
import type { Scenario } from '../scenario-kit/types.js';
import {
  testBuild,
  bundleDir,
  HIL_BUILDS,
  makeBundle,
  offerUpdate,
  pairAndRunThroughLauncher,
  requireLauncherTarget,
  expectRefusal,
} from '../scenario-kit/updates.js';

export const otaWrongArch: Scenario = {
  id: 'ota-wrong-arch',
  title: 'a release for another architecture: refused with WRONG_ARCH, nothing changed',
  timeoutS: 300,
  requires: { ownCloud: true, ownSiteServer: true },
  async run(ctx) {
    requireLauncherTarget(ctx);
    const bundle = await makeBundle(ctx, testBuild(ctx, 'update'), HIL_BUILDS.update.version, {
      arch: 'arm64',
      workDir: bundleDir(ctx),
    });
    await pairAndRunThroughLauncher(ctx);
    const campaignId = await offerUpdate(ctx, bundle);
    await expectRefusal(ctx, campaignId, 'WRONG_ARCH', 'a wrong-arch release');
    checkEqual(ctx.device.sessionExit(), null, 'the device process (it must not have restarted)');
    await waitPresence(ctx, 'online', { timeoutMs: 10_000 });
  },
};
