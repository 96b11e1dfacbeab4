/**
 * Config push: a valid config is applied without restart and reported (`config/reported` applied, seen by the
 * site server); a bad config is refused and the running one kept (the site server refuses it with the same
 * schema the device uses, so the device's own rejection path cannot be reached through the control API).
 */
import { check, checkEqual } from '../scenario/errors.js';
import { pairAndRun } from '../scenario/steps.js';
import type { Scenario } from '../scenario/types.js';
import { SiteControlError } from '../bed/site-control.js';

export const configPush: Scenario = {
  id: 'config-push',
  title: 'a config push is applied and reported; a bad config is refused and the running one kept',
  timeoutS: 90,
  async run(ctx) {
    await pairAndRun(ctx);
    const started = Date.now();
    const applied = await ctx.site.control.pushConfig(ctx.edgeId, { heartbeatSeconds: 7 }, { timeoutMs: 20_000 });
    ctx.figure('configRoundTripMs', Date.now() - started);
    checkEqual(applied.status, 200, `config push answer (${JSON.stringify(applied.body)})`);
    const reported = applied.body.reported as { status?: string; version?: number } | undefined;
    checkEqual(reported?.status, 'applied', 'config/reported status');
    check(ctx.device.sessionExit() === null, 'the device must apply a config without restarting');

    let refused: SiteControlError | null = null;
    try {
      await ctx.site.control.pushConfig(ctx.edgeId, { heartbeatSeconds: 1 }, { timeoutMs: 5_000 });
    } catch (error) {
      if (!(error instanceof SiteControlError)) throw error;
      refused = error;
    }
    check(refused?.status === 400, `a heartbeat of 1 s is invalid and must be refused, got ${refused ? refused.message : 'accepted'}`);
    const edge = await ctx.site.control.edge(ctx.edgeId);
    const last = edge?.config.reported as { version?: number; status?: string } | null;
    checkEqual(last?.version, reported?.version, 'the last reported config version (the running config is kept)');
  },
};
