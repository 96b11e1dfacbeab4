/**
 * Revocation and re-pairing: an admin removes the device in the cloud; the site server must drop its live
 * session, the device must stop with "not paired or revoked" (exit 7), say so in `status`, and stop hammering
 * the broker. A new pairing code then brings it back.
 */
import { check, checkEqual } from '../scenario-kit/errors.js';
import {
  deviceStatus,
  EDGE_EXIT,
  pairAndRun,
  pairDevice,
  startAndWaitOnline,
  waitPresence,
} from '../scenario-kit/steps.js';
import type { Scenario } from '../scenario-kit/types.js';
import { waitUntil } from '../util/wait.js';

export const revocation: Scenario = {
  id: 'revocation',
  title: 'revocation stops the device (exit 7, status revoked); a new code re-pairs it',
  timeoutS: 180,
  async run(ctx) {
    await pairAndRun(ctx);
    const revokedAt = Date.now();
    await ctx.cloud.admin.revokeEdge(ctx.site.orgId, ctx.site.siteId, ctx.edgeId);
    await waitPresence(ctx, 'offline', { timeoutMs: 60_000 });
    const exit = await waitUntil(() => ctx.device.sessionExit(), {
      timeoutMs: 90_000,
      what: 'the device to stop after revocation',
      signal: ctx.signal,
      intervalMs: 250,
    });
    ctx.figure('revokedToExitMs', Date.now() - revokedAt);
    checkEqual(exit.code, EDGE_EXIT.NOT_PAIRED, 'run exit code after revocation');
    check(
      ctx.device.runEvents().some((l) => l.event === 'revoked'),
      'run --json should report the revocation (event "revoked")',
    );
    const status = await deviceStatus(ctx);
    checkEqual(status.state, 'revoked', 'status --json state');
    check(
      typeof status.next === 'string' && /pair/i.test(status.next),
      `status should say a new pairing is needed, got ${JSON.stringify(status.next)}`,
    );

    await pairDevice(ctx, { force: true });
    await startAndWaitOnline(ctx, { figure: 'timeToOnlineAfterRepairMs' });
    const edges = (await ctx.cloud.admin.listEdges(ctx.site.orgId, ctx.site.siteId)).filter(
      (e) => e.edgeId === ctx.edgeId,
    );
    check(
      edges.some((e) => e.status === 'active'),
      `the cloud should list ${ctx.edgeId} active again, got ${JSON.stringify(edges.map((e) => e.status))}`,
    );
  },
};
