/**
 * Reconciliation (issue 15): the licence bindings this server made while air-gapped are reported to the cloud
 * (`CLOUD_ROUTES.licenceBindings`, site token) once it is reachable: after every successful trust refresh, in
 * batches of at most `MAX_BINDINGS_PER_REPORT`. A binding is marked reported only after the cloud's answer, so a
 * report lost to a power cut or a network failure is sent again; the cloud treats a repeat as `known`. A
 * `conflict` (the key was bound elsewhere meanwhile) is kept, logged and shown on `GET /licences` for an admin.
 */
import type { Logger } from '../../../common/log/log.js';
import { MAX_BINDINGS_PER_REPORT } from '../../../protocol/index.js';
import type { SiteRegistry } from '../edge-api/site-registry.js';
import type { CloudClient } from './cloud-client.js';

export class BindingReporter {
  private running: Promise<void> | undefined;

  constructor(
    private readonly cloud: CloudClient,
    private readonly siteToken: string,
    private readonly registry: SiteRegistry,
    private readonly logger: Logger,
  ) {}

  /** Reports every unreported binding; one run at a time. Rejects with the cloud's error (retried later). */
  flush(): Promise<void> {
    this.running ??= this.report().finally(() => (this.running = undefined));
    return this.running;
  }

  private async report(): Promise<void> {
    for (;;) {
      const bindings = this.registry.unreported(MAX_BINDINGS_PER_REPORT);
      if (!bindings.length) return;
      const answer = await this.cloud.reportLicenceBindings(this.siteToken, { bindings });
      const now = new Date().toISOString();
      // Only a result that names its binding's key counts as the cloud's answer for it.
      const answered = bindings.filter((b, i) => answer.results[i]?.licenceKey === b.licenceKey);
      this.registry.transaction(() => {
        for (const [i, binding] of bindings.entries())
          if (answered.includes(binding))
            this.registry.markReported(binding.licenceKey, binding.edgeUuid, answer.results[i]!.status, now);
      });
      const conflicts = bindings.filter((_, i) => answer.results[i]?.status === 'conflict');
      // The key is the edge's credential: the log names the edge, never the key.
      for (const binding of conflicts)
        this.logger.warn('licence_binding_conflict', {
          edgeId: binding.edgeId,
          hardwareId: binding.hardwareId,
          note: 'the cloud holds this licence bound elsewhere; an admin settles it (GET /licences shows which)',
        });
      this.logger.info('licence_bindings_reported', { count: bindings.length, conflicts: conflicts.length });
      // A batch the cloud answered only partly would be sent again at once, for ever: wait for the next refresh.
      if (answered.length < bindings.length) return;
    }
  }
}
