/**
 * The edge token expires while the device is off (a shutdown over a long weekend, scaled down): on the next
 * boot the device must get a new token from the cloud with its device key and come online, instead of being
 * refused forever. Needs its own cloud with a short token lifetime. The site server accepts tokens up to 60 s
 * past `exp`, so the device stays off until that leeway has passed too.
 */
import { check } from '../scenario-kit/errors.js';
import { deviceStatus, pairAndRun, startAndWaitOnline } from '../scenario-kit/steps.js';
import type { Scenario } from '../scenario-kit/types.js';
import { waitUntil } from '../util/wait.js';

const TTL_S = 10;
const SITE_SERVER_LEEWAY_S = 60;

export const tokenExpiryOffline: Scenario = {
  id: 'token-expiry-offline',
  title: 'the token expires while the device is off; it refreshes and comes online',
  timeoutS: 240,
  requires: { ownCloud: true },
  setup: { cloud: { edgeTokenTtlSeconds: TTL_S } },
  async run(ctx) {
    await pairAndRun(ctx);
    await ctx.device.stop();
    const before = await deviceStatus(ctx);
    const expiresAt = Date.parse(String(before.tokenExpiresAt));
    check(
      Number.isFinite(expiresAt),
      `status --json should show tokenExpiresAt, got ${JSON.stringify(before.tokenExpiresAt)}`,
    );
    // Off until the token is dead even for the site server's leeway.
    await waitUntil(() => Date.now() > expiresAt + (SITE_SERVER_LEEWAY_S + 2) * 1000, {
      timeoutMs: (TTL_S + SITE_SERVER_LEEWAY_S + 30) * 1000,
      what: 'the token to expire beyond the leeway',
      signal: ctx.signal,
      intervalMs: 1000,
    });
    const offForS = Math.round((Date.now() - expiresAt) / 1000);
    ctx.figure('offPastExpiryS', offForS);

    await startAndWaitOnline(ctx, { timeoutMs: 60_000, figure: 'timeToOnlineAfterExpiryMs' });
    const after = await deviceStatus(ctx);
    check(
      Date.parse(String(after.tokenExpiresAt)) > expiresAt,
      `the device should hold a newer token: ${String(before.tokenExpiresAt)} → ${String(after.tokenExpiresAt)}`,
    );
  },
};
