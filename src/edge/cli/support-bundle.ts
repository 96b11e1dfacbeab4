/**
 * `support-bundle`: everything a support engineer needs in one .tar.gz, secrets scrubbed (see
 * diagnostics/support-bundle.ts). Read-only: works with the service running or stopped and never creates or
 * migrates state. The output file is created new (never overwritten, never through a link), owner-only.
 */
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { Duration, durationMs } from '../../protocol/index.js';
import { scrub } from '../diagnostics/secrets.js';
import { collectSupportBundle } from '../diagnostics/support-bundle.js';
import { writeNewFile } from '../diagnostics/write-new-file.js';
import { EdgeError } from '../errors.js';
import { commonSettings, pairingUriFile, parseFlags, type Subcommand } from './common.js';

export function parseSince(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Duration.safeParse(value);
  if (!parsed.success) throw new EdgeError('USAGE', `--since: ${parsed.error.issues[0]?.message}`);
  return now - durationMs(parsed.data);
}

/**
 * The default bundle file name. The host name is set by whoever set up the device and may be anything: it is
 * scrubbed (whole and percent-decoded) before it is cut to a safe charset, so a secret-shaped name is not kept.
 */
export function defaultBundleName(host: string, now = new Date()): string {
  const safeHost =
    scrub(host, [])
      .replace(/\[redacted\]/g, 'redacted')
      .replace(/[^A-Za-z0-9-]+/g, '-')
      .slice(0, 32)
      .replace(/^-+|-+$/g, '') || 'host';
  return `consystence-edge-support-${safeHost}-${now.toISOString().replace(/[:.]/g, '-')}.tar.gz`;
}

export const supportBundle: Subcommand = {
  describe: 'write a .tar.gz of status, doctor, config, logs and system facts for support (secrets removed)',
  usage:
    'consystence-edge support-bundle [--out FILE] [--since DURATION (30m, 2h, 7d)] [--pairing-uri-file FILE] [--json]',
  async run(io) {
    const values = parseFlags(io.argv, {
      out: { type: 'string' },
      since: { type: 'string' },
      'pairing-uri-file': { type: 'string' },
    });
    const settings = commonSettings(values, io.env);
    const sinceMs = parseSince(values.since);
    const out = resolve(values.out ?? defaultBundleName(hostname()));
    const bundle = await collectSupportBundle({
      stateDir: settings.stateDir,
      ...(settings.hardwareId ? { hardwareId: settings.hardwareId } : {}),
      ...(sinceMs !== undefined ? { sinceMs } : {}),
      pairingUriFile: pairingUriFile(values['pairing-uri-file'], io.env),
    });
    writeNewFile(out, bundle.data);
    io.stdout(
      settings.json
        ? `${JSON.stringify({ file: out, bytes: bundle.data.length, sha256: bundle.sha256, files: bundle.files })}\n`
        : `support bundle written: ${out} (${bundle.data.length} bytes, sha256 ${bundle.sha256})\n`,
    );
    return 0;
  },
};
