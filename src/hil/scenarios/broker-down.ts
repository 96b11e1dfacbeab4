/**
 * The site server's broker goes away for a while (listener stopped, as in a site-server reboot) and comes
 * back. The device keeps taking telemetry while it cannot send (buffering in its outbox), reconnects by itself
 * within a bounded time, and drains: the site server's `seq` book must end with every seq and no gap.
 */
import { check, checkEqual } from '../scenario-kit/errors.js';
import { pairAndRun, waitPresence } from '../scenario-kit/steps.js';
import { expectAllDelivered, produceBatch } from '../scenario-kit/telemetry.js';
import type { Scenario } from '../scenario-kit/types.js';
import { sleep } from '../../common/time/sleep.js';

const DOWN_MS = 5_000;
const BEFORE = 20;
const DURING = 50;

export const brokerDown: Scenario = {
  id: 'broker-down',
  title: `the broker is down for ${DOWN_MS / 1000} s; the device buffers, reconnects and drains with no seq gaps`,
  timeoutS: 180,
  requires: { ownSiteServer: true, capabilities: ['telemetry'] },
  async run(ctx) {
    await pairAndRun(ctx);
    const beforeSeq = await produceBatch(ctx, BEFORE, 'before');
    await expectAllDelivered(ctx, beforeSeq);

    await ctx.site.control.faults.listener('stop');
    ctx.defer(() => void ctx.site.control.faults.listener('start').catch(() => undefined));
    // Stopping the listener closes live sessions: the server records the edge offline.
    await waitPresence(ctx, 'offline', { timeoutMs: 15_000 });
    const buffered = await produceBatch(ctx, DURING, 'during');
    ctx.figure('bufferedMessages', DURING);
    const status = await ctx.device.status();
    check(status, 'status --json while the broker is down');
    ctx.figure('queueDepthWhileDown', (status.queue as { depth?: number } | undefined)?.depth ?? null);
    await sleep(DOWN_MS, { signal: ctx.signal, onAbort: 'reject' });

    const back = Date.now();
    await ctx.site.control.faults.listener('start');
    // The device's backoff is capped (60 s in the runtime), so it must be back within that plus a margin.
    await waitPresence(ctx, 'online', { timeoutMs: 90_000, sinceMs: back - 1000 });
    ctx.figure('reconnectMs', Date.now() - back);
    const drainStart = Date.now();
    await expectAllDelivered(ctx, buffered, 90_000);
    ctx.figure('drainMs', Date.now() - drainStart);
    checkEqual(ctx.device.sessionExit(), null, 'the device process must keep running through a broker outage');
  },
};
