/**
 * Site registration (issue 15): a fresh device registers through the site server with a licence key, trusting it
 * by the fingerprint the site server reports. A wrong fingerprint first: refused (exit 5) before anything is sent,
 * so the site server never hears of the device. Then the right one: the site server relays to the cloud, the cloud
 * binds the licence to this device, and the device comes online with the cloud-issued token.
 */
import { check, checkEqual } from '../scenario-kit/errors.js';
import {
  EDGE_EXIT,
  describeResult,
  deviceStatus,
  mintLicence,
  registerDevice,
  startAndWaitOnline,
} from '../scenario-kit/steps.js';
import type { Scenario } from '../scenario-kit/types.js';
import { parseJsonLine } from '../../common/process/process.js';

export const siteRegistration: Scenario = {
  id: 'site-registration',
  title: 'registration through the site server with a licence key, trusted by its fingerprint, then online',
  timeoutS: 120,
  async run(ctx) {
    const licenceKey = await mintLicence(ctx);
    const { edgeUrl, fingerprint } = ctx.site;
    if (!edgeUrl || !fingerprint) return ctx.skip('the site server reports no edge-facing API: it predates issue 15');

    const wrong = await ctx.device.register({
      siteServerUrl: edgeUrl,
      fingerprint: `sha256:${'0'.repeat(64)}`,
      licenceKey,
      edgeId: ctx.edgeId,
    });
    checkEqual(
      wrong.code,
      EDGE_EXIT.VERIFICATION_FAILED,
      `register with a wrong fingerprint (${describeResult(wrong)})`,
    );
    checkEqual(await ctx.site.control.edge(ctx.edgeId), null, 'the site server after a refused fingerprint');

    const registered = await registerDevice(ctx, ctx.site, licenceKey);
    const last = parseJsonLine(registered.stdout.trim().split('\n').at(-1) ?? '') ?? {};
    checkEqual(last.registered, true, 'the last line of register --json');

    const { licences } = await ctx.cloud.admin.listLicences(ctx.site.orgId);
    checkEqual(
      licences.find((l) => l.key === licenceKey)?.binding?.edgeId,
      ctx.edgeId,
      "the cloud's binding of the licence key",
    );
    await startAndWaitOnline(ctx);
    const status = await deviceStatus(ctx);
    checkEqual(status.registeredVia, 'site-connected', 'status --json registeredVia');
    checkEqual(status.siteServerFingerprint, fingerprint, 'status --json siteServerFingerprint');
    check(status.tokenIssuer === ctx.cloud.url, `the token should be the cloud's, got ${String(status.tokenIssuer)}`);
  },
};
