/**
 * A power cut in the middle of draining a backlog (SIGKILL locally, the rig's relay on hardware). A backlog is
 * built while the broker is away; the power is cut right after the broker returns, while the device sends it.
 * The site server must mark the device offline through its last will, and after power-up the device must come
 * back by itself, without pairing again, and finish the drain: every seq, no gaps, nothing committed lost.
 */
import { checkEqual } from '../scenario-kit/errors.js';
import { pairAndRun, startAndWaitOnline, waitPresence } from '../scenario-kit/steps.js';
import { expectAllDelivered, produceBatch } from '../scenario-kit/telemetry.js';
import type { Scenario } from '../scenario-kit/types.js';
import { waitUntil } from '../util/wait.js';

const BACKLOG = 300;

export const powerCut: Scenario = {
  id: 'power-cut',
  title: 'a power cut while draining a backlog: LWT offline, back online without pairing, no seq lost',
  timeoutS: 240,
  requires: { capabilities: ['powerCut', 'telemetry'], ownSiteServer: true },
  async run(ctx) {
    await pairAndRun(ctx);
    await ctx.site.control.faults.listener('stop');
    ctx.defer(() => void ctx.site.control.faults.listener('start').catch(() => undefined));
    await waitPresence(ctx, 'offline', { timeoutMs: 15_000 });
    const lastSeq = await produceBatch(ctx, BACKLOG, 'backlog');

    const back = Date.now();
    await ctx.site.control.faults.listener('start');
    await waitPresence(ctx, 'online', { timeoutMs: 90_000, sinceMs: back - 1000 });
    // Cut as soon as the drain is visibly under way, so the cut lands mid-drain on any device speed.
    const atCut = await waitUntil(
      async () => {
        const gaps = await ctx.site.control.gaps(ctx.edgeId);
        return gaps.lastSeq > 0 ? gaps : null;
      },
      { timeoutMs: 60_000, what: 'the drain to start', signal: ctx.signal, intervalMs: 20 },
    );
    await ctx.device.kill();
    ctx.figure('seqAtCut', atCut.lastSeq);
    ctx.figure('backlog', lastSeq);
    ctx.note(
      atCut.lastSeq >= lastSeq
        ? 'the device drained everything before the cut landed (fast device): the cut tested only restart'
        : `cut with ${lastSeq - atCut.lastSeq} seqs still to send`,
    );

    const offline = await waitPresence(ctx, 'offline', { timeoutMs: 90_000 });
    checkEqual(offline.presence.reason, 'lost', 'the offline reason after a power cut (the LWT)');
    await startAndWaitOnline(ctx, { timeoutMs: 60_000, figure: 'timeToOnlineAfterPowerMs' });
    await expectAllDelivered(ctx, lastSeq, 90_000);
  },
};
