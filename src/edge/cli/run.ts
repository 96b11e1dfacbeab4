/**
 * `run`: the service. Pairs first from the pairing-URI file if the device is unpaired (first boot: the URI is
 * recorded as used in the state; the file is never deleted, see pairing/used-uri.ts), then keeps the session to
 * the site server until SIGTERM. The cloud is not needed once paired.
 */
import { lstatSync } from 'node:fs';
import { EdgeError, ExitCodes } from '../errors.js';
import { keepingFailureForStatus, readFirstBootFile } from '../first-boot-file.js';
import type { Logger } from '../../common/log/log.js';
import { pairingInputFrom } from '../pairing/inputs.js';
import { markPairingUriUsed, wasPairingUriUsed } from '../pairing/used-uri.js';
import type { StepEvent } from '../pairing/steps.js';
import type { EdgeRuntime } from '../runtime.js';
import { clearPairingFileFailure } from '../stores/pairing-file-failure.js';
import { acquireRunLock } from '../stores/run-lock.js';
import { DataPlane } from '../data/data-plane.js';
import { claimProducerSocket, producerEndpoint, type ProducerEndpoint } from '../data/producer-endpoint.js';
import { systemdNotifier, type ServiceNotifier } from '../systemd/notify.js';
import { attachDiagnostics } from '../diagnostics/attach.js';
import { createRuntimeLog, type RuntimeLog } from '../diagnostics/runtime-log.js';
import { siteCheckOption } from './site-check-env.js';
import { registerFromFile, registrationFilePath } from '../site-server/registration-file.js';
import { attachUpdates } from '../update/attach.js';
import { EXIT_RESTART_FOR_UPDATE } from '../update/state-files.js';
import { commonSettings, openRuntime, pairingUriFile, parseFlags, type Subcommand } from './common.js';

/** Exit code after a `restart` command: the service manager starts the process again. */
export const RESTART_EXIT_CODE = 10;
const MAX_URI_FILE_BYTES = 4096;

export const run: Subcommand = {
  describe: 'run the edge service (pairs first from the pairing-URI file on first boot)',
  usage:
    'consystence-edge run [--pairing-uri-file FILE] [--registration-file FILE] [--edge-id ID] [--producer-port N|0|off | --producer-socket PATH] [--json]',
  async run(io) {
    const values = parseFlags(io.argv, {
      'pairing-uri-file': { type: 'string' },
      'registration-file': { type: 'string' },
      'edge-id': { type: 'string' },
      'producer-port': { type: 'string' },
      'producer-socket': { type: 'string' },
    });
    const settings = commonSettings(values, io.env);
    // Validated before anything starts: a bad flag is a usage error, not a half-started service.
    const producer = producerEndpoint({ port: values['producer-port'], socket: values['producer-socket'] }, io.env);
    await claimProducerSocket(producer);
    // Logs go to stderr (journald) and to a bounded file in the state dir that support bundles read.
    const log = createRuntimeLog({
      stateDir: settings.stateDir,
      level: settings.logLevel,
      stderr: io.stderr,
      base: { component: 'edge' },
    });
    const logger = log.logger;
    const uriFile = pairingUriFile(values['pairing-uri-file'], io.env);
    const lock = await acquireRunLock(
      settings.stateDir,
      `the service is already running with the state in ${settings.stateDir}; a second one would share its identity (systemctl status consystence-edge)`,
    ).catch((error: unknown) => {
      log.close();
      throw error;
    });
    const runtime = await openRuntime(settings, logger, io, { upgradeLayout: true, ...siteCheckOption(io.env) }).catch(
      (error: unknown) => {
        lock.release();
        log.close();
        throw error;
      },
    );
    log.apply(runtime.state.config.current()?.config.logs);
    // READY as soon as the state is open, not after pairing: first-boot pairing may retry for minutes, longer than
    // systemd waits for a start; from here on the watchdog pings prove the loop runs.
    const service = await systemdNotifier(io.env, logger);
    service.ready(runtime.state.registration.get() ? 'paired' : 'not paired yet');
    const say = (fields: Record<string, unknown>, human: string) =>
      io.stdout(settings.json ? `${JSON.stringify({ ts: new Date().toISOString(), ...fields })}\n` : `${human}\n`);
    try {
      if (!runtime.state.registration.get()) {
        // The pairing-URI file first, as before; without one, a registration file for the site server.
        const registrationFile = registrationFilePath(values['registration-file'], io.env);
        const registered =
          !somethingAt(uriFile) && (await registerFromFile(runtime, registrationFile, values['edge-id'], logger, say));
        if (!registered) await pairFromFile(runtime, uriFile, registrationFile, values['edge-id'], logger, say);
      }
      return await serve(
        runtime,
        { stateDir: settings.stateDir, hardwareId: settings.hardwareId, uriFile },
        producer,
        service,
        log,
        say,
      );
    } finally {
      service.stopping();
      runtime.close();
      service.close();
      log.close();
      lock.release();
    }
  },
};

/** lstat: a link or anything else at the path is the pairing-URI file's to refuse, not a reason to look elsewhere. */
function somethingAt(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

async function pairFromFile(
  runtime: EdgeRuntime,
  file: string,
  registrationFile: string,
  edgeId: string | undefined,
  logger: Logger,
  say: (f: Record<string, unknown>, h: string) => void,
): Promise<void> {
  const content = readFirstBootFile(
    file,
    MAX_URI_FILE_BYTES,
    'pairing-URI file',
    'holding one consystence-edge://pair?… line',
  );
  if (content === undefined) {
    throw new EdgeError(
      'NOT_PAIRED',
      `this device is not paired and there is no pairing-URI file at ${file} (nor a registration file at ${registrationFile}); run 'consystence-edge pair --uri …' or 'consystence-edge register …', or place the URI in that file`,
    );
  }
  const input = await keepingFailureForStatus(runtime, async () => {
    const input = pairingInputFrom({ uri: content.trim(), edgeId });
    if (wasPairingUriUsed(runtime.state.kv, input))
      throw new EdgeError(
        'NOT_PAIRED',
        `this device is not paired and the pairing URI in ${file} was used before (its code is single-use); place a new pairing URI in that file`,
      );
    say({ event: 'pairing_from_file', file }, `not paired yet: pairing from ${file}`);
    await runtime.pair(input, { steps: (event: StepEvent) => logger.info('pairing_step', { ...event }) });
    return input;
  });
  markPairingUriUsed(runtime.state.kv, input);
  clearPairingFileFailure(runtime.state);
  // Never deleted: the packaged service cannot (root's /etc/consystence-edge) and one behaviour everywhere is
  // easier to document. The spent code is worthless; the technician deletes the file.
  logger.info('pairing_uri_file_kept', {
    file,
    note: 'recorded as used, never paired from again; delete the file (its code is spent)',
  });
  say({ event: 'paired', pairingUriFile: 'kept' }, `paired; ${file} is left in place (its code is spent): delete it`);
}

async function serve(
  runtime: EdgeRuntime,
  paths: { stateDir: string; hardwareId: string | undefined; uriFile: string },
  producer: ProducerEndpoint,
  service: ServiceNotifier,
  log: RuntimeLog,
  say: (f: Record<string, unknown>, h: string) => void,
): Promise<number> {
  const { stateDir } = paths;
  const session = runtime.createSession();
  const diagnostics = attachDiagnostics(session, runtime, { ...paths, log });
  const data = new DataPlane({
    outbox: runtime.outbox(),
    session,
    stateDir,
    clock: runtime.clock,
    logger: runtime.logger,
    producer,
  });
  let requestUpdateRestart = () => {};
  const updates = attachUpdates(session, runtime, stateDir, () => requestUpdateRestart());
  return new Promise<number>((resolve) => {
    let ending = false;
    const end = (code: number, reason: 'shutdown' | 'restart') => {
      if (ending) return;
      ending = true;
      service.stopping();
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      // Data first (no new 202s, pending commits, a short drain), then the retained offline and DISCONNECT.
      updates
        .stop()
        .catch((error: unknown) => runtime.logger.error('update_stop_failed', { error }))
        .then(() => data.stop())
        .catch((error: unknown) => runtime.logger.error('data_plane_stop_failed', { error }))
        .then(() => session.stop(reason))
        .catch((error: unknown) => runtime.logger.error('session_stop_failed', { error }))
        .then(() => diagnostics.close())
        .then(
          () => resolve(code),
          () => resolve(code),
        );
    };
    const onSignal = () => end(ExitCodes.OK, 'shutdown');
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    session.on('state', (state) => {
      service.status(`site session ${state}`);
      say({ event: 'state', state }, `state: ${state}`);
    });
    session.on('config', (config) =>
      say(
        { event: 'config', heartbeatSeconds: config.heartbeatSeconds },
        `config applied (heartbeat ${config.heartbeatSeconds} s)`,
      ),
    );
    session.on('restart', () => end(RESTART_EXIT_CODE, 'restart'));
    // The new version is in place: exit so the service manager starts it through the launcher.
    requestUpdateRestart = () => end(EXIT_RESTART_FOR_UPDATE, 'restart');
    session.on('revoked', () => {
      say({ event: 'revoked' }, 'this device was removed from its site: pair it again with a new pairing code');
      end(ExitCodes.NOT_PAIRED, 'shutdown');
    });
    // Signals are handled from here on: a SIGTERM while the producer API starts still shuts down cleanly.
    diagnostics
      .start()
      .then(() => data.start())
      .then(
        () => true,
        (error: unknown) => {
          // A producer socket path that became unusable since the check at start: exit, as at start.
          runtime.logger.error('data_plane_start_failed', { error });
          if (!(error instanceof EdgeError)) return true;
          say({ event: 'producer_api_refused', error: error.message }, `not starting: ${error.message}`);
          end(error.exitCode, 'shutdown');
          return false;
        },
      )
      .then((started) => {
        if (!started || ending) return;
        // Before the session: a rollback or trial across the restart is recorded before anything is reported.
        updates.start();
        session.start();
        const edgeId = runtime.state.registration.get()?.edgeId;
        say(
          { event: 'started', bootId: session.bootId, edgeId, producer: data.producerAddress },
          `running as ${edgeId}${data.producerAddress ? `; producer API at ${data.producerAddress}` : ''}`,
        );
      })
      .catch((error: unknown) => {
        // The session could not start (its database refused the boot bookkeeping): exit, the service manager retries.
        runtime.logger.error('session_start_failed', { error });
        end(ExitCodes.STATE_DIR_UNUSABLE, 'shutdown');
      });
  });
}
