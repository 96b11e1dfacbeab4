/**
 * Config push: a valid config is applied without restart and reported (`config/reported` applied, seen by the
 * site server); a bad config, published raw past the control API's own validation, is rejected by the device
 * with a reason, and the running one kept.
 */
import { check, checkEqual } from '../scenario-kit/errors.js';
import { pairAndRun } from '../scenario-kit/steps.js';
import type { Scenario } from '../scenario-kit/types.js';
import { waitUntil } from '../util/wait.js';

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

    // A heartbeat of 1 s is invalid: the device must say so on config/reported and keep what runs.
    const badVersion = (reported?.version ?? 0) + 100;
    await ctx.site.control.publishRaw(
      ctx.edgeId,
      'config',
      JSON.stringify({ version: badVersion, config: { heartbeatSeconds: 1 } }),
    );
    const rejection = await waitUntil(
      async () => {
        const reports = await ctx.site.control.messages(ctx.edgeId, { channel: 'config/reported', limit: 50 });
        return (
          reports
            .map((m) => m.payload as { version?: number; status?: string; error?: string } | null)
            .find((p) => p?.version === badVersion) ?? null
        );
      },
      { timeoutMs: 15_000, what: 'the device rejecting the bad config' },
    );
    checkEqual(rejection.status, 'rejected', 'config/reported status for a heartbeat of 1 s');
    check(Boolean(rejection.error), 'the rejection must carry a reason');
    const status = await ctx.device.status();
    checkEqual(status?.configVersion, reported?.version, 'the running config version after the rejection (kept)');
    check(ctx.device.sessionExit() === null, 'the device must survive a bad config');
  },
};
