/**
 * Remote diagnostics (issue 14): the runtime's log settings a config push may change, and the arguments and
 * results of the `doctor` and `support-bundle` commands. A bundle never travels over MQTT: the command names a
 * short-lived upload URL on the site server, and the edge PUTs the .tar.gz there with its edge token.
 */
import { z } from 'zod';

export const LogLevels = ['debug', 'info', 'warn', 'error'] as const;

/** `logs` in the running config: the level of stderr and the log file, and the file's bounds. */
export const LogsConfig = z.strictObject({
  level: z.enum(LogLevels),
  /** Size of each log file in KiB; 0 keeps no file (stderr only). */
  fileSizeKb: z.number().int().min(0).max(65_536),
  /** Files kept, the current one included (`edge.log`, `edge.log.1`, …). */
  files: z.number().int().min(1).max(10),
});
export type LogsConfig = z.infer<typeof LogsConfig>;

/** A look-back such as `30s`, `15m`, `2h` or `7d`. */
export const Duration = z.string().regex(/^[1-9][0-9]{0,5}[smhd]$/, 'a duration such as 30m, 2h or 7d');
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
export function durationMs(duration: string): number {
  return Number(duration.slice(0, -1)) * UNIT_MS[duration.slice(-1) as keyof typeof UNIT_MS];
}

/** The largest bundle a site may ask for; the request names its own cap below this. */
export const MAX_SUPPORT_BUNDLE_BYTES = 64 * 1024 * 1024;

export const SupportBundleArgs = z.strictObject({
  /** Where to PUT the bundle: http(s) on the site server's own host; single use, short-lived. */
  uploadUrl: z.url({ protocol: /^https?$/ }).max(2048),
  /** The bundle is refused on the device, not uploaded, when larger. */
  maxBytes: z.number().int().min(1024).max(MAX_SUPPORT_BUNDLE_BYTES),
  /** Only log lines this recent (default: all the log file holds). */
  since: Duration.optional(),
});
export type SupportBundleArgs = z.infer<typeof SupportBundleArgs>;

/** `cmd/result.result` of a `support-bundle` that uploaded. */
export const SupportBundleResult = z.object({
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  files: z.array(z.string()),
  /** The site server's answer to the upload (its id for the bundle). */
  upload: z.object({ id: z.string() }).loose(),
});
export type SupportBundleResult = z.infer<typeof SupportBundleResult>;

export const DoctorArgs = z.strictObject({});
export const DoctorCheck = z.object({
  name: z.string(),
  ok: z.boolean(),
  skipped: z.boolean().optional(),
  detail: z.string(),
  fix: z.string().optional(),
});
/** `cmd/result.result` of `doctor`: what `consystence-edge doctor --json` prints. */
export const DoctorReport = z.object({ ok: z.boolean(), checks: z.array(DoctorCheck) });
export type DoctorReport = z.infer<typeof DoctorReport>;
