/**
 * The register response is lost (the cloud commits, then the connection drops): the device's retry must
 * replay the same registration with its saved Idempotency-Key, so the code is not burned and the cloud ends
 * with exactly one registration.
 */
import { checkEqual } from '../scenario-kit/errors.js';
import { deviceStatus, pairDevice, startAndWaitOnline } from '../scenario-kit/steps.js';
import type { Scenario } from '../scenario-kit/types.js';

export const lostRegisterResponse: Scenario = {
  id: 'lost-register-response',
  title: 'a lost register-edge response is replayed: same registration, code not burned',
  timeoutS: 120,
  async run(ctx) {
    await ctx.cloud.admin.faults.set({
      type: 'drop-after-commit',
      route: 'POST /api/organisations/*/sites/*/register-edge',
      times: 1,
    });
    ctx.defer(async () => {
      await ctx.cloud.admin.faults.reset();
    });
    await pairDevice(ctx);

    const armed = await ctx.cloud.admin.faults.get();
    checkEqual(armed.pending.length, 0, 'armed faults left (the drop must have happened)');
    const edges = (await ctx.cloud.admin.listEdges(ctx.site.orgId, ctx.site.siteId)).filter(
      (e) => e.edgeId === ctx.edgeId,
    );
    checkEqual(
      edges.map((e) => e.status),
      ['active'],
      `registrations of ${ctx.edgeId} in the cloud`,
    );
    const status = await deviceStatus(ctx);
    checkEqual(status.edgeUuid, edges[0]!.id, 'the device saved the registration the cloud committed (edge uuid)');
    await startAndWaitOnline(ctx);
  },
};
