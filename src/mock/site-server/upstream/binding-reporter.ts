/**
 * Reconciliation (issue 15): the licence bindings this server made while air-gapped are reported to the cloud
 * (`CLOUD_ROUTES.licenceBindings`, site token) once it is reachable: after every successful trust refresh, in
 * batches the cloud's 64 KiB body cap allows. A binding is marked reported only after the cloud's answer, so a
 * report lost to a power cut or a network failure is sent again; the cloud treats a repeat as `known`. A
 * `conflict` (the key was bound elsewhere meanwhile) is kept, logged and shown on `GET /licences` for an admin.
 */
import type { Logger } from '../../../common/log/log.js';
import type { SiteRegistry } from '../edge-api/site-registry.js';
import type { CloudClient } from './cloud-client.js';

/** About 500 bytes a binding: well under the cloud's 64 KiB body cap. */
const BATCH = 100;

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
      const bindings = this.registry.unreported(BATCH);
      if (!bindings.length) return;
      const answer = await this.cloud.reportLicenceBindings(this.siteToken, { bindings });
      const now = new Date().toISOString();
      this.registry.transaction(() => {
        for (const [i, binding] of bindings.entries()) {
          const result = answer.results[i];
          if (result?.licenceKey === binding.licenceKey)
            this.registry.markReported(binding.licenceKey, binding.edgeUuid, result.status, now);
        }
      });
      for (const [i, binding] of bindings.entries()) {
        const status = answer.results[i]?.status;
        // The key is the edge's credential: the log names the edge, never the key.
        if (status === 'conflict')
          this.logger.warn('licence_binding_conflict', {
            edgeId: binding.edgeId,
            hardwareId: binding.hardwareId,
            note: 'the cloud holds this licence bound elsewhere; an admin settles it (GET /licences shows which)',
          });
      }
      this.logger.info('licence_bindings_reported', {
        count: bindings.length,
        conflicts: answer.results.filter((r) => r.status === 'conflict').length,
      });
      // A batch the cloud answered for only partly would loop forever: stop and try again next time.
      if (answer.results.length !== bindings.length) return;
    }
  }
}
