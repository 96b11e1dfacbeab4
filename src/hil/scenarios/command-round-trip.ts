/**
 * A command round trip through the site server: `ping` answers ok, an unknown command is refused with
 * UNKNOWN_COMMAND (never a crash), and the device keeps running.
 */
import { check, checkEqual } from '../scenario-kit/errors.js';
import { pairAndRun } from '../scenario-kit/steps.js';
import type { Scenario } from '../scenario-kit/types.js';

export const commandRoundTrip: Scenario = {
  id: 'command-round-trip',
  title: 'a command round trip (ping), and an unknown command refused',
  timeoutS: 90,
  async run(ctx) {
    await pairAndRun(ctx);
    const started = Date.now();
    const ping = await ctx.site.control.command(ctx.edgeId, 'ping', { timeoutMs: 15_000 });
    ctx.figure('commandRoundTripMs', Date.now() - started);
    checkEqual(ping.status, 200, `ping answer (${JSON.stringify(ping.body)})`);
    const result = ping.body.result as { ok?: boolean } | undefined;
    checkEqual(result?.ok, true, 'ping result ok');

    const unknown = await ctx.site.control.command(ctx.edgeId, 'no-such-command', { timeoutMs: 15_000 });
    checkEqual(unknown.status, 200, `unknown command answer (${JSON.stringify(unknown.body)})`);
    const refused = unknown.body.result as { ok?: boolean; error?: { code?: string } } | undefined;
    checkEqual(refused?.ok, false, 'unknown command result ok');
    checkEqual(refused?.error?.code, 'UNKNOWN_COMMAND', 'unknown command error code');
    check(ctx.device.sessionExit() === null, 'the device must keep running after an unknown command');
  },
};
