/**
 * A new site server on another port takes the site over while the device streams (issue 17): the device moves to
 * it by itself, without re-pairing, and no seq is lost across the two servers; the old server says it was
 * replaced and admits nobody afterwards.
 */
import { startSecondSiteServer } from '../bed/second-site-server.js';
import { SiteControlError } from '../bed/site-control.js';
import { check, checkEqual } from '../scenario-kit/errors.js';
import { deviceStatus, pairDevice, waitPresence } from '../scenario-kit/steps.js';
import { produceBatch } from '../scenario-kit/telemetry.js';
import type { Scenario } from '../scenario-kit/types.js';
import { waitUntil } from '../util/wait.js';

/** Seconds without its site server before the device asks the cloud (600 in the field). */
const SITE_CHECK_AFTER_SECONDS = 3;
const BEFORE = 30;
const AFTER = 30;

export const siteServerReplaced: Scenario = {
  id: 'site-server-replaced',
  title: 'a new site server takes over; the device follows it without re-pairing and loses no seq',
  timeoutS: 180,
  requires: { ownSiteServer: true, capabilities: ['telemetry'] },
  async run(ctx) {
    if (ctx.device.kind === 'remote')
      ctx.skip('needs CONSYSTENCE_EDGE_SITE_CHECK_AFTER_SECONDS set on the device; set it in its service environment');
    await pairDevice(ctx);
    await ctx.device.start({ siteCheckAfterSeconds: SITE_CHECK_AFTER_SECONDS });
    await waitPresence(ctx, 'online');
    const beforeSeq = await produceBatch(ctx, BEFORE, 'before');

    const started = Date.now();
    const next = await startSecondSiteServer(ctx);
    ctx.note(`second site server at ${next.server.mqttUrl} registered for the site`);
    // The old server learns it was replaced at its next refresh, then drops and refuses its edges.
    const oldHealth = await waitUntil(
      async () => {
        const error = await ctx.site.control.health().then(
          () => null,
          (e: unknown) => e,
        );
        return error instanceof SiteControlError && error.status === 503 ? error : null;
      },
      { timeoutMs: 30_000, what: 'the old site server to report replaced', signal: ctx.signal, intervalMs: 250 },
    );
    check(/replaced/.test(oldHealth.message) || oldHealth.status === 503, `old /health: ${oldHealth.message}`);
    const afterSeq = await produceBatch(ctx, AFTER, 'after');

    await waitUntil(async () => ((await next.control.edge(ctx.edgeId))?.presence.state === 'online' ? true : null), {
      timeoutMs: 90_000,
      what: 'the device online at the new site server',
      signal: ctx.signal,
      intervalMs: 250,
    });
    ctx.figure('moveMs', Date.now() - started);

    // No seq lost: the old server holds 1..beforeSeq, the new one everything after (its only gap is what the old
    // one already has: it never saw the device before).
    const oldBook = await ctx.site.control.gaps(ctx.edgeId);
    check(oldBook.lastSeq >= beforeSeq && oldBook.missing === 0, `old server's seq book: ${JSON.stringify(oldBook)}`);
    const newBook = await waitUntil(
      async () => {
        const book = await next.control.gaps(ctx.edgeId);
        return book.lastSeq >= afterSeq ? book : null;
      },
      { timeoutMs: 60_000, what: `the new server to hold seq ${afterSeq}`, signal: ctx.signal, intervalMs: 250 },
    );
    const lostGaps = newBook.data.filter((gap) => gap.to > oldBook.lastSeq);
    checkEqual(lostGaps.length, 0, `gaps not covered by the old server (${JSON.stringify(lostGaps)})`);
    ctx.figure('lastSeq', newBook.lastSeq);

    const status = await deviceStatus(ctx);
    const site = status.siteEndpoint as { mqttUrl?: string; fallbackUrl?: string } | undefined;
    checkEqual(site?.mqttUrl, next.server.mqttUrl, 'the endpoint status reports in use');
    checkEqual(site?.fallbackUrl, ctx.site.mqttUrl, 'the fallback status reports');
    checkEqual(ctx.device.sessionExit(), null, 'the device process must keep running while it moves');
  },
};
