/**
 * A release signed by a key the device does not trust (the cloud was told to accept it, as a cloud whose key
 * list is ahead of the fleet's would) is refused by the device: `failed` with BAD_SIGNATURE, nothing downloaded or
 * installed, the same version still running and online.
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TrustedReleaseKey } from '../../protocol/release.js';
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

const KID = 'hil-untrusted';
// Made once per run, never written anywhere but the scenario's scratch folder.
const untrusted = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const publicJwk = untrusted.publicKey.export({ format: 'jwk' }) as TrustedReleaseKey['jwk'];

export const otaBadSignature: Scenario = {
  id: 'ota-bad-signature',
  title: 'a release signed by a key the device does not trust: refused with BAD_SIGNATURE, nothing changed',
  timeoutS: 300,
  requires: { ownCloud: true, ownSiteServer: true },
  setup: { cloud: { releaseKeys: [{ kid: KID, jwk: publicJwk }] } },
  async run(ctx) {
    requireLauncherTarget(ctx);
    const dir = bundleDir(ctx);
    const key = join(dir, 'untrusted.private.jwk');
    writeFileSync(key, JSON.stringify({ ...untrusted.privateKey.export({ format: 'jwk' }), kid: KID }), {
      mode: 0o600,
    });
    const bundle = await makeBundle(ctx, testBuild(ctx, 'update'), HIL_BUILDS.update.version, { workDir: dir, key });
    await pairAndRunThroughLauncher(ctx);
    const campaignId = await offerUpdate(ctx, bundle);
    await expectRefusal(ctx, campaignId, 'BAD_SIGNATURE', 'a release signed by an untrusted key');
    checkEqual(ctx.device.sessionExit(), null, 'the device process (it must not have restarted)');
    await waitPresence(ctx, 'online', { timeoutMs: 10_000 });
  },
};
