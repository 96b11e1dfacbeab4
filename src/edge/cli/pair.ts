/**
 * `pair`: registers this device with the cloud from a pairing URI (or separate flags), showing each step as it
 * happens. Safe to repeat: an unfinished pairing is replayed with the same Idempotency-Key. The URI and the code
 * are secrets: they are read from stdin, a file or the environment (secret-input.ts).
 */
import { z } from 'zod';
import { EdgeError } from '../errors.js';
import { acquireRunLock, serviceRunning } from '../stores/run-lock.js';
import { pinnedFetch, saveCloudCa } from '../cloud-client/http-pinned.js';
import { cloudCaFrom, pairingInputFrom, type PairingInput } from '../pairing/inputs.js';
import { humanSteps, jsonSteps } from '../pairing/steps.js';
import { printable } from '../../common/text/safe-text.js';
import { commonSettings, loggerFor, openRuntime, parseFlags, type CliIo, type Subcommand } from './common.js';
import { PAIRING_CODE_ENV, PAIRING_URI_ENV, readSecretFile, visibleSecretWarning } from './secret-input.js';

const PairFlags = z.object({
  maxAttempts: z.coerce.number().int().min(1).max(50).default(6),
});

/** The cloud codes about the code itself: the technician sees the code they tried (never the logs). */
const CODE_REFUSALS = new Set(['PAIRING_CODE_INVALID', 'PAIRING_CODE_EXPIRED', 'PAIRING_CODE_USED']);

export const pair: Subcommand = {
  describe: 'pair this device with its site (from the pairing URI shown in the Consystence portal)',
  usage: `consystence-edge pair --uri -                 (paste the pairing URI on stdin, then Enter and Ctrl-D)
consystence-edge pair --uri-file FILE         (or env ${PAIRING_URI_ENV})
consystence-edge pair --cloud URL --org ORG_ID --site SITE_ID --code-file FILE   (or env ${PAIRING_CODE_ENV})
  [--edge-id ID] [--licence-key CST-EDGE-XXXX-XXXX-XXXX] [--cloud-ca FILE] [--force] [--no-connect] [--max-attempts N] [--json]
  --cloud-ca FILE  trust only this CA (PEM) for the cloud, now and for later token refreshes (a private cloud)
  --uri URI and --code CODE still work, but put the code where every user of this device can read it (ps)`,
  async run(io) {
    const values = parseFlags(io.argv, {
      uri: { type: 'string' },
      'uri-file': { type: 'string' },
      cloud: { type: 'string' },
      org: { type: 'string' },
      site: { type: 'string' },
      code: { type: 'string' },
      'code-file': { type: 'string' },
      'edge-id': { type: 'string' },
      'licence-key': { type: 'string' },
      force: { type: 'boolean' },
      'no-connect': { type: 'boolean' },
      'max-attempts': { type: 'string' },
      'cloud-ca': { type: 'string' },
    });
    const settings = commonSettings(values, io.env);
    const extra = PairFlags.safeParse({ maxAttempts: values['max-attempts'] });
    if (!extra.success) throw new EdgeError('USAGE', '--max-attempts must be a whole number from 1 to 50');
    const separate = values.cloud !== undefined || values.org !== undefined || values.site !== undefined;
    const input = pairingInputFrom({
      uri: await pairingUri(values, separate, io),
      cloud: values.cloud,
      org: values.org,
      site: values.site,
      code: pairingCode(values, separate, io),
      edgeId: values['edge-id'],
      licenceKey: values['licence-key'],
    });
    const cloudCa = values['cloud-ca'] !== undefined ? cloudCaFrom(values['cloud-ca'], input.cloudUrl) : undefined;
    // Replacing the registration under a running service would leave it online as the old device.
    const lock = values.force === true ? await acquireRunLock(settings.stateDir, serviceRunning('pair --force')) : null;
    const runtime = await openRuntime(settings, loggerFor(settings, io, 'pair'), io, {
      pairingRetry: { maxAttempts: extra.data.maxAttempts },
      ...(cloudCa ? { fetch: pinnedFetch(cloudCa) } : {}),
      upgradeLayout: lock !== null,
    }).catch((error: unknown) => {
      lock?.release();
      throw error;
    });
    try {
      const registration = await runtime.pair(input, {
        steps: settings.json ? jsonSteps(io.stdout) : humanSteps(io.stdout),
        force: values.force === true,
        checkConnect: values['no-connect'] !== true,
      });
      // What this pairing trusted is what token refreshes trust (none: the platform's store, for a public cloud).
      saveCloudCa(runtime.state.db, cloudCa);
      io.stdout(
        settings.json
          ? `${JSON.stringify({ paired: true, edgeId: registration.edgeId, edgeUuid: registration.edgeUuid, siteId: registration.siteId, broker: registration.config.siteServer.mqtt.url })}\n`
          : `paired: ${registration.edgeId} at site ${registration.siteId}. Start the service: systemctl enable --now consystence-edge\n`,
      );
      return 0;
    } catch (error) {
      if (!(error instanceof EdgeError)) throw error;
      if (settings.json) io.stdout(`${JSON.stringify(jsonFailure(error))}\n`);
      throw withCodeTried(error, input);
    } finally {
      runtime.close();
      lock?.release();
    }
  },
};

type PairValues = Partial<Record<'uri' | 'uri-file' | 'code' | 'code-file', string>>;

/** `--uri -` (stdin), `--uri-file`, `--uri` (warned), else the environment unless separate flags are given. */
async function pairingUri(values: PairValues, separate: boolean, io: CliIo): Promise<string | undefined> {
  if (values.uri !== undefined && values['uri-file'] !== undefined)
    throw new EdgeError('USAGE', 'give either --uri or --uri-file, not both');
  if (values['uri-file'] !== undefined) return readSecretFile(values['uri-file'], '--uri-file');
  if (values.uri === '-') return (await io.readStdin()).trim();
  if (values.uri !== undefined) {
    if (/[?&]code=/i.test(values.uri))
      io.stderr(visibleSecretWarning('--uri', `'pair --uri -', --uri-file FILE or env ${PAIRING_URI_ENV}`));
    return values.uri;
  }
  return separate ? undefined : io.env[PAIRING_URI_ENV] || undefined;
}

/** `--code-file`, `--code` (warned), else the environment, for the separate-flags form. */
function pairingCode(values: PairValues, separate: boolean, io: CliIo): string | undefined {
  if (values.code !== undefined && values['code-file'] !== undefined)
    throw new EdgeError('USAGE', 'give either --code or --code-file, not both');
  if (values['code-file'] !== undefined) return readSecretFile(values['code-file'], '--code-file');
  if (values.code !== undefined) {
    io.stderr(visibleSecretWarning('--code', `--code-file FILE or env ${PAIRING_CODE_ENV}`));
    return values.code;
  }
  return separate ? io.env[PAIRING_CODE_ENV] || undefined : undefined;
}

/** `pair --json`'s last line on failure: what a script switches on (never the code). */
function jsonFailure(error: EdgeError) {
  return {
    paired: false,
    error: { code: error.code, cloudCode: error.cloudCode ?? null, message: printable(error.message, 2000) },
    exitCode: error.exitCode,
  };
}

/** A refused code is echoed to the technician's own terminal so a typo can be seen; it never reaches a log. */
function withCodeTried(error: EdgeError, input: PairingInput): EdgeError {
  if (!error.cloudCode || !CODE_REFUSALS.has(error.cloudCode)) return error;
  const shown = `${input.code.slice(0, 4)}-${input.code.slice(4)}`;
  return new EdgeError(error.code, `${error.message} (code tried: ${shown})`, {
    cause: error,
    cloudCode: error.cloudCode,
  });
}
