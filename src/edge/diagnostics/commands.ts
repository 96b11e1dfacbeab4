/**
 * The remote-diagnostics commands over P/cmd: `doctor` answers with the doctor report; `support-bundle` collects
 * a bundle and uploads it to the URL the command names (upload.ts). Arguments are validated with the contract's
 * schemas; a bad one fails the command with the reason, nothing is collected or sent.
 */
import { durationMs, SupportBundleArgs, type DoctorReport, type SupportBundleResult } from '../../protocol/index.js';
import type { CommandRegistry } from '../commands/registry.js';
import type { CheckResult } from '../status/doctor.js';
import type { SupportBundle } from './support-bundle.js';
import { uploadBundle, type UploadTarget } from './upload.js';

export interface DiagnosticsCommandDeps {
  doctor(): Promise<CheckResult[]>;
  collect(sinceMs: number | undefined): Promise<SupportBundle>;
  /** Where uploads may go and with what token, read when the command runs (the token may have been refreshed). */
  uploadTarget(): UploadTarget;
}

export function registerDiagnosticsCommands(registry: CommandRegistry, deps: DiagnosticsCommandDeps): CommandRegistry {
  return registry
    .register('doctor', {
      run: async (): Promise<DoctorReport> => {
        const checks = await deps.doctor();
        return { ok: checks.every((c) => c.ok), checks };
      },
    })
    .register('support-bundle', {
      run: async ({ args }): Promise<SupportBundleResult> => {
        const parsed = SupportBundleArgs.safeParse(args);
        if (!parsed.success)
          throw new Error(
            `invalid arguments: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'args'} ${i.message}`).join('; ')}`,
          );
        const request = parsed.data;
        // The local clock, not the cloud-corrected one: log lines are stamped with the local clock.
        const bundle = await deps.collect(request.since ? Date.now() - durationMs(request.since) : undefined);
        const upload = await uploadBundle(request, bundle.data, bundle.sha256, deps.uploadTarget());
        return { bytes: bundle.data.length, sha256: bundle.sha256, files: bundle.files, upload };
      },
    });
}
