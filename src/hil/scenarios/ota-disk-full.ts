/**
 * An update that does not fit: the device's state folder is a small tmpfs (room for its databases, not for the
 * download and the install). The device refuses before writing anything (`failed`, INSUFFICIENT_SPACE), leaves no
 * partial file or release behind, and goes on running and delivering data.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { check } from '../scenario-kit/errors.js';
import { waitPresence } from '../scenario-kit/steps.js';
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
  expectRefusal,
} from '../scenario-kit/updates.js';

/** Room for identity.db and an outbox, not for a 50 MiB download plus a 110 MiB binary. */
const STATE_DISK = '48m';

export const otaDiskFull: Scenario = {
  id: 'ota-disk-full',
  title: 'an update that does not fit on the disk: refused with INSUFFICIENT_SPACE before anything is written',
  timeoutS: 300,
  requires: { capabilities: ['telemetry'], ownCloud: true, ownSiteServer: true },
  async run(ctx) {
    requireLauncherTarget(ctx);
    const stateDir =
      ctx.device.localStateDir ?? ctx.skip('needs a local target (its state folder is put on a small tmpfs)');
    if (process.geteuid?.() !== 0) ctx.skip('mounting a tmpfs for the state folder needs root');
    const bundle = await makeBundle(ctx, testBuild(ctx, 'update'), HIL_BUILDS.update.version, {
      workDir: bundleDir(ctx),
    });
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${STATE_DISK},mode=0700`, 'tmpfs', stateDir], { stdio: 'pipe' });
    ctx.defer(() => void execFileSync('umount', ['-l', stateDir], { stdio: 'pipe' }));

    await pairAndRunThroughLauncher(ctx);
    const before = await produceBatch(ctx, 20, 'before-update');
    const campaignId = await offerUpdate(ctx, bundle);
    await expectRefusal(ctx, campaignId, 'INSUFFICIENT_SPACE', 'an update that does not fit', 180_000);
    const downloads = join(stateDir, 'update/downloads');
    check(
      !existsSync(downloads) || readdirSync(downloads).length === 0,
      `no partial download may be left: ${existsSync(downloads) ? readdirSync(downloads).join(', ') : ''}`,
    );
    check(!existsSync(join(stateDir, 'releases', HIL_BUILDS.update.version)), 'no release folder may be left');
    await waitPresence(ctx, 'online', { timeoutMs: 10_000 });
    const after = await produceBatch(ctx, 20, 'after-update');
    ctx.figure('seqBeforeAfter', `${before}/${after}`);
    await expectAllDelivered(ctx, after, 60_000);
  },
};
