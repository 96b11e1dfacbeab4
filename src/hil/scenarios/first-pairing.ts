/**
 * First pairing: a fresh device pairs from a pairing URI, shows each step, then runs and comes online at the
 * site server; the cloud lists it active and `status` agrees. The figure that matters to a technician on site is
 * time-to-online.
 */
import { check, checkEqual } from '../scenario-kit/errors.js';
import { deviceStatus, pairDevice, startAndWaitOnline } from '../scenario-kit/steps.js';
import type { Scenario } from '../scenario-kit/types.js';
import { parseJsonLine } from '../../common/process/process.js';

export const firstPairing: Scenario = {
  id: 'first-pairing',
  title: 'first pairing from a pairing URI, then online at the site server',
  timeoutS: 90,
  async run(ctx) {
    const paired = await pairDevice(ctx);
    const lines = paired.stdout
      .trim()
      .split('\n')
      .map((l) => parseJsonLine(l) ?? {});
    const steps = lines.filter((l) => l.status === 'ok').map((l) => l.step);
    check(
      steps.includes('register') && steps.includes('save'),
      `pair --json should report the register and save steps as ok, got ${JSON.stringify(steps)}`,
    );
    checkEqual(lines.at(-1)?.paired, true, 'the last line of pair --json');

    const edges = await ctx.cloud.admin.listEdges(ctx.site.orgId, ctx.site.siteId);
    const mine = edges.filter((e) => e.edgeId === ctx.edgeId);
    checkEqual(
      mine.map((e) => e.status),
      ['active'],
      `the cloud's registrations of ${ctx.edgeId}`,
    );

    const online = await startAndWaitOnline(ctx);
    checkEqual(online.registration, 'active', "the site server's view of the registration");
    const status = await deviceStatus(ctx);
    checkEqual(status.edgeId, ctx.edgeId, 'status --json edgeId');
    checkEqual(status.siteId, ctx.site.siteId, 'status --json siteId');
  },
};
