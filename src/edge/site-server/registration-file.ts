/**
 * First boot without typing on a site server's network: the service registers from a registration file
 * (`CONSYSTENCE_EDGE_REGISTRATION_FILE`, default /etc/consystence-edge/registration) the way it pairs from the
 * pairing-URI file: a regular file only (no link, no FIFO), at most 4 KiB, never deleted (the service cannot write
 * root's /etc/consystence-edge), and recorded as used by a salted digest of what it named, so after a `reset` the
 * service does not register again by itself. The fingerprint is required in the file: the service has no terminal
 * to ask on.
 */
import type { Logger } from '../../common/log/log.js';
import { EdgeError } from '../errors.js';
import type { CheckResult } from '../status/doctor.js';
import { keepingFailureForStatus, readableByOthers, readFirstBootFile } from '../first-boot-file.js';
import { matchesSecretDigest, secretDigest } from '../pairing/secret-digest.js';
import type { StepEvent } from '../pairing/steps.js';
import type { EdgeRuntime } from '../runtime.js';
import { clearPairingFileFailure } from '../stores/pairing-file-failure.js';
import type { KvStore } from '../stores/kv-store.js';
import type { SiteRegisterInput } from './register.js';
import { parseRegistrationFile } from './register-inputs.js';

export const REGISTRATION_FILE_ENV = 'CONSYSTENCE_EDGE_REGISTRATION_FILE';
export const DEFAULT_REGISTRATION_FILE = '/etc/consystence-edge/registration';
const MAX_FILE_BYTES = 4096;
const USED_KEY = 'registration_file.used_sha256';

export function registrationFilePath(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return flag ?? (env[REGISTRATION_FILE_ENV] || DEFAULT_REGISTRATION_FILE);
}

const canonical = (input: SiteRegisterInput) =>
  JSON.stringify([input.siteServerUrl, input.fingerprint, input.edgeId, input.licenceKey]);
// A salted digest (secret-digest.ts), as the licence key is in what it covers; an earlier version's SHA-256 matches too.
const digest = (input: SiteRegisterInput) => secretDigest(canonical(input));
const wasUsed = (kv: KvStore, input: SiteRegisterInput) => matchesSecretDigest(kv.get(USED_KEY), canonical(input));

/**
 * Registers from the file if there is one; false when there is none (the caller goes on to the pairing-URI file).
 * A failure is kept for `status` (the service exits and systemd restarts it) and thrown.
 */
export async function registerFromFile(
  runtime: EdgeRuntime,
  file: string,
  edgeId: string | undefined,
  logger: Logger,
  say: (fields: Record<string, unknown>, human: string) => void,
): Promise<boolean> {
  const content = readFirstBootFile(
    file,
    MAX_FILE_BYTES,
    'registration file',
    'of site-server=, fingerprint=, edge-id= and licence-key= lines',
  );
  if (content === undefined) return false;
  const exposed = readableByOthers(file, 'a licence key');
  if (exposed) {
    logger.warn('registration_file_exposed', { file, why: exposed });
    say({ event: 'registration_file_exposed', file, message: exposed }, `warning: ${exposed}`);
  }
  const input = await keepingFailureForStatus(runtime, async () => {
    let input: SiteRegisterInput;
    try {
      input = parseRegistrationFile(content);
    } catch (error) {
      throw new EdgeError('USAGE', `the registration file ${file} is not usable: ${(error as Error).message}`);
    }
    if (edgeId !== undefined) input = { ...input, edgeId };
    if (wasUsed(runtime.state.kv, input))
      throw new EdgeError(
        'NOT_PAIRED',
        `this device is not registered and the registration file ${file} was used before (this device was reset since); run 'consystence-edge register', or change the file, to register again`,
      );
    say(
      { event: 'registering_from_file', file },
      `not registered yet: registering through the site server from ${file}`,
    );
    await runtime.register(input, { steps: (event: StepEvent) => logger.info('registration_step', { ...event }) });
    return input;
  });
  runtime.state.db.transaction(() => runtime.state.kv.set(USED_KEY, digest(input)));
  clearPairingFileFailure(runtime.state);
  logger.info('registration_file_kept', { file, note: 'recorded as used; it holds a licence key: delete it' });
  say({ event: 'registered', registrationFile: 'kept' }, `registered; ${file} holds the licence key: delete it`);
  return true;
}

/** doctor's warning for a registration file every user can read (none when it is private or absent). */
export function registrationFileRows(file: string): CheckResult[] {
  const exposed = readableByOthers(file, 'a licence key');
  return exposed ? [{ name: 'registration-file', level: 'warn', ok: true, detail: exposed }] : [];
}
