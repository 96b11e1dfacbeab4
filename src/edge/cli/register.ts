/**
 * `register`: registers this device through its site server with a licence key (issue 15), showing each step as
 * `pair` does. The site server is trusted by its key fingerprint (`--site-server-fingerprint`, or confirmed on a
 * terminal), checked before anything is sent. The licence key is a secret: read from a file, stdin or the
 * environment (secret-input.ts); on the command line it works, with a warning.
 */
import { z } from 'zod';
import { printable } from '../../common/text/safe-text.js';
import { EdgeError } from '../errors.js';
import { humanSteps, jsonSteps } from '../pairing/steps.js';
import { siteRegisterInputFrom } from '../site-server/register-inputs.js';
import { acquireRunLock, serviceRunning } from '../stores/run-lock.js';
import { type CliIo, commonSettings, loggerFor, openRuntime, parseFlags, type Subcommand } from './common.js';
import { LICENCE_KEY_ENV, readHiddenLine, readSecretFile, visibleSecretWarning } from './secret-input.js';

const Flags = z.object({ maxAttempts: z.coerce.number().int().min(1).max(50).default(6) });

export const register: Subcommand = {
  describe: 'register this device through its site server with a licence key (connected or air-gapped site)',
  usage: `consystence-edge register --site-server URL --licence-key-file FILE   (or --licence-key - for stdin, or env ${LICENCE_KEY_ENV})
  [--site-server-fingerprint sha256:…] [--edge-id ID] [--force] [--no-connect] [--max-attempts N] [--json]
  --site-server URL              the site server's edge address, e.g. https://site-server.local:5000
  --site-server-fingerprint FP   the key fingerprint the site server prints at start; without it you are shown the
                                 fingerprint and asked on a terminal (without a terminal, register refuses)
  --licence-key KEY still works, but puts the key where every user of this device can read it (ps)`,
  async run(io) {
    const values = parseFlags(io.argv, {
      'site-server': { type: 'string' },
      'site-server-fingerprint': { type: 'string' },
      'edge-id': { type: 'string' },
      'licence-key': { type: 'string' },
      'licence-key-file': { type: 'string' },
      force: { type: 'boolean' },
      'no-connect': { type: 'boolean' },
      'max-attempts': { type: 'string' },
    });
    const settings = commonSettings(values, io.env);
    const extra = Flags.safeParse({ maxAttempts: values['max-attempts'] });
    if (!extra.success) throw new EdgeError('USAGE', '--max-attempts must be a whole number from 1 to 50');
    const fromStdin = values['licence-key'] === '-';
    const input = siteRegisterInputFrom({
      siteServer: values['site-server'],
      edgeId: values['edge-id'],
      licenceKey: await licenceKey(values, io),
      fingerprint: values['site-server-fingerprint'],
    });
    // The question needs the terminal: with the key read from stdin, or no terminal at all, the flag is required.
    const ask = !fromStdin && io.stdinIsTty && io.ask ? io.ask : undefined;
    const lock =
      values.force === true ? await acquireRunLock(settings.stateDir, serviceRunning('register --force')) : null;
    const runtime = await openRuntime(settings, loggerFor(settings, io, 'register'), io, {
      pairingRetry: { maxAttempts: extra.data.maxAttempts },
      upgradeLayout: lock !== null,
    }).catch((error: unknown) => {
      lock?.release();
      throw error;
    });
    try {
      const registered = runtime.state.registration.get();
      if (values.force === true && registered && !registered.revokedAt)
        io.stderr(
          `warning: this device is registered as ${registered.edgeId} already; --force registers it again. With another licence key than the one it registered with, that first key stays bound to this device (two licences spent), until the site admin (or Consystence support) releases it. The same key again spends nothing\n`,
        );
      const registration = await runtime.register(input, {
        steps: settings.json ? jsonSteps(io.stdout) : humanSteps(io.stdout),
        force: values.force === true,
        checkConnect: values['no-connect'] !== true,
        ...(ask ? { confirmFingerprint: confirmOn(ask) } : {}),
      });
      io.stdout(
        settings.json
          ? `${JSON.stringify({ registered: true, edgeId: registration.edgeId, edgeUuid: registration.edgeUuid, siteId: registration.siteId, broker: registration.config.siteServer.mqtt.url })}\n`
          : `registered: ${registration.edgeId} at site ${registration.siteId}. Start the service: systemctl enable --now consystence-edge\n`,
      );
      return 0;
    } catch (error) {
      if (error instanceof EdgeError && settings.json)
        io.stdout(
          `${JSON.stringify({ registered: false, error: { code: error.code, cloudCode: error.cloudCode ?? null, message: printable(error.message, 2000) }, exitCode: error.exitCode })}\n`,
        );
      throw error;
    } finally {
      runtime.close();
      lock?.release();
    }
  },
};

type Values = Partial<Record<'licence-key' | 'licence-key-file', string>>;

/** `--licence-key-file`, `--licence-key -` (stdin), `--licence-key KEY` (warned), else the environment. */
async function licenceKey(values: Values, io: CliIo): Promise<string | undefined> {
  if (values['licence-key'] !== undefined && values['licence-key-file'] !== undefined)
    throw new EdgeError('USAGE', 'give either --licence-key or --licence-key-file, not both');
  if (values['licence-key-file'] !== undefined) return readSecretFile(values['licence-key-file'], '--licence-key-file');
  if (values['licence-key'] === '-')
    return (io.stdinIsTty ? await readHiddenLine('licence key (not shown): ') : await io.readStdin()).trim();
  if (values['licence-key'] !== undefined) {
    io.stderr(
      visibleSecretWarning(
        '--licence-key',
        `--licence-key-file FILE, --licence-key - or env ${LICENCE_KEY_ENV}`,
        'licence key',
      ),
    );
    return values['licence-key'];
  }
  return io.env[LICENCE_KEY_ENV] || undefined;
}

function confirmOn(ask: NonNullable<CliIo['ask']>) {
  return async (fingerprint: string, siteServerUrl: string): Promise<boolean> => {
    const answer = await ask(
      `The site server at ${siteServerUrl} presents the key\n  ${fingerprint}\nCompare it with the fingerprint the site server printed at start (or on its /health page).\nTrust this site server? (y/N) `,
    );
    return /^y(es)?$/i.test(answer.trim());
  };
}
