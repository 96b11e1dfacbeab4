/**
 * The composition root: storage, clock, identity, pairing, session, status. Nothing starts on import and
 * nothing is global, so one process can host many runtimes (the HIL fleet simulator) and tests get fresh ones.
 */
import { createLogger, type Logger } from '../common/log/log.js';
import type { BackoffPolicy, Random } from './backoff.js';
import { type ClockSources, EdgeClock } from './clock.js';
import type { EdgeCore } from './core.js';
import type { FetchLike } from './cloud-client/http.js';
import { EdgeError } from './errors.js';
import { Outbox } from './outbox/outbox.js';
import { resolveHardwareId, type HardwareIdentity } from './identity/hardware-id.js';
import { ensureIdentity } from './identity/device-key.js';
import type { PairingInput } from './pairing/inputs.js';
import { type PairDeps, pairDevice } from './pairing/pair.js';
import { acquireRegistrationLock } from './stores/run-lock.js';
import { registerThroughSite, type SiteRegisterDeps, type SiteRegisterInput } from './site-server/register.js';
import { edgeFetchFor, saveSiteRegistration } from './site-server/site-registration-store.js';
import { silentSteps, type StepReporter } from './pairing/steps.js';
import { EdgeSession } from './session/session.js';
import type { QueueStatsValue } from './session/messages.js';
import { probeConnect } from './session/probe.js';
import { loadClockOffset, saveClockOffset } from './stores/clock-offset-store.js';
import { credentialTransaction } from './stores/credential-transaction.js';
import { closeEdgeStores, openEdgeStores, type EdgeStores } from './stores/index.js';
import type { Registration } from './stores/registration-store.js';
import { buildStatusReport, type StatusReport } from './status/report.js';
import { runDoctor, type CheckResult } from './status/doctor.js';
import { hardwareIdCheck } from './status/hardware-id-check.js';
import { statePrivacyCheck } from './status/state-privacy-check.js';
import { readUpdateSummary, updateCheck } from './update/summary.js';
import { deleteSecurely } from '../storage/index.js';
import { VERSION } from './version.js';

export interface EdgeRuntimeOptions {
  /** Folder of identity.db and outbox.db. */
  stateDir: string;
  /** Split an earlier version's edge.db first; only with the run lock held (see openEdgeStores). */
  upgradeLayout?: boolean;
  logger?: Logger;
  /** `--hardware-id`: a 64-hex value as is, anything else hashed; default the machine id's SHA-256. */
  hardwareId?: string;
  fetch?: FetchLike;
  version?: string;
  hostname?: string;
  random?: Random;
  /** Overrides the heartbeat's queue stats (default: this runtime's outbox). */
  queueStats?: () => QueueStatsValue;
  reconnectPolicy?: BackoffPolicy;
  pairingRetry?: { policy?: BackoffPolicy; maxAttempts?: number };
  /** How long the site server may be unreachable before the cloud is asked where it is (default 10 min). */
  siteCheckAfterMs?: number;
  /** The machine's clocks (tests of 1970 boards and clock steps); give wall and monotonic time together. */
  clockSources?: Partial<ClockSources>;
  /** For commands that only look (status, doctor): nothing on disk is created, repaired or migrated. */
  readOnly?: boolean;
  /** Where the machine id is looked for (tests of images without one); default /var/lib/dbus and /etc. */
  machineIdFiles?: readonly string[];
}

export interface EdgeRuntime {
  readonly state: EdgeStores;
  readonly clock: EdgeClock;
  readonly hardwareId: string;
  /** Where the hardware id came from (doctor warns when it is a stand-in kept in the state folder). */
  readonly hardware: HardwareIdentity;
  readonly version: string;
  readonly logger: Logger;
  pair(input: PairingInput, options?: RegisterOptions): Promise<Registration>;
  /** Registers through the site server with a licence key (issue 15). */
  register(
    input: SiteRegisterInput,
    options?: RegisterOptions & Pick<SiteRegisterDeps, 'confirmFingerprint' | 'licenceKeys'>,
  ): Promise<Registration>;
  /** A session for `run`; start it with `.start()`. Its heartbeat reports `outbox()`'s stats. */
  createSession(): EdgeSession;
  /**
   * The store-and-forward outbox in this runtime's database, created on first use (status, pair and doctor never
   * need it) with the running config's buffer limits. One per runtime; closed by `close()`.
   */
  outbox(): Outbox;
  /** `pairingUriFile`: report whether a pairing URI waits there (for an unpaired device). */
  status(options?: { pairingUriFile?: string }): StatusReport;
  doctor(): Promise<CheckResult[]>;
  /**
   * Forgets the registration (and with `keys`, the device key), scrubbing the deleted bytes from the file and
   * its WAL; `notScrubbed` says why they may still be on disk.
   */
  reset(options: { keys: boolean }): Promise<{ notScrubbed?: string }>;
  close(): void;
}

export interface RegisterOptions {
  steps?: StepReporter;
  force?: boolean;
  checkConnect?: boolean;
  signal?: AbortSignal;
}

/** Seqs below this may have been used by some outbox of this device (see SeqReservation). */
const SEQ_FLOOR_KEY = 'outbox_seq_floor';

export async function createEdgeRuntime(options: EdgeRuntimeOptions): Promise<EdgeRuntime> {
  const logger = options.logger ?? createLogger();
  // The state folder passes its checks (inside openEdgeStores) before anything, the stand-in machine id too, is
  // created in it.
  const readOnly = options.readOnly === true;
  const state = await openEdgeStores(options.stateDir, logger, {
    upgradeLayout: options.upgradeLayout === true,
    readOnly,
  });
  let hardware: HardwareIdentity;
  try {
    hardware = resolveHardwareId(options.hardwareId, {
      stateDir: options.stateDir,
      readOnly,
      ...(options.machineIdFiles ? { machineIdFiles: options.machineIdFiles } : {}),
    });
  } catch (error) {
    closeEdgeStores(state);
    throw error;
  }
  const hardwareId = hardware.id;
  const version = options.version ?? VERSION;
  const fetchImpl: FetchLike = options.fetch ?? edgeFetchFor(state.db);
  const clock = new EdgeClock(
    loadClockOffset(state.kv),
    (saved) => {
      if (readOnly) return; // doctor measures the skew but a read-only command keeps nothing
      try {
        state.db.transaction(() => saveClockOffset(state.kv, saved));
      } catch (error) {
        logger.warn('clock_offset_not_saved', { error });
      }
    },
    options.clockSources,
  );

  // The key exists from first boot, long before pairing (it is replaced only by reset --keys).
  if (!readOnly) await ensureIdentity(state.identity, new Date(clock.now()));
  let outbox: Outbox | null = null;
  const openOutbox = (): Outbox => {
    if (outbox) return outbox;
    const buffer = state.config.current()?.config.buffer ?? state.registration.get()?.config.buffer;
    if (!buffer)
      throw new EdgeError('NOT_PAIRED', 'the outbox needs the buffer limits the cloud gives at pairing; pair first');
    if (state.outboxInLegacyFile)
      throw new EdgeError('INTERNAL', 'the outbox is still in edge.db: only a runtime opened with upgradeLayout sends');
    outbox = new Outbox(state.outboxDb, {
      limits: buffer,
      clock,
      logger: logger.child({ component: 'outbox' }),
      seqReservation: {
        floor: () => state.kv.getNumber(SEQ_FLOOR_KEY, 1),
        reserve: (upTo) => credentialTransaction(state.db, () => state.kv.set(SEQ_FLOOR_KEY, upTo)),
      },
    });
    return outbox;
  };
  const existing = state.registration.get();
  if (existing && existing.hardwareId !== hardwareId) {
    logger.warn('hardware_id_changed', {
      registered: existing.hardwareId,
      current: hardwareId,
      hint: 'this state was copied from another device, or --hardware-id changed',
    });
  }

  const core: EdgeCore = { state, clock, fetch: fetchImpl, hardwareId, version, logger };
  const pairDeps = (pairOptions: RegisterOptions): PairDeps => ({
    ...core,
    steps: pairOptions.steps ?? silentSteps,
    ...(options.hostname ? { hostname: options.hostname } : {}),
    ...(options.pairingRetry || options.random
      ? { retry: { ...options.pairingRetry, ...(options.random ? { random: options.random } : {}) } }
      : {}),
    ...(pairOptions.signal ? { signal: pairOptions.signal } : {}),
    ...(pairOptions.force ? { force: true } : {}),
    ...(pairOptions.checkConnect ? { checkConnect: (reg: Registration) => probeConnect(reg) } : {}),
  });

  // One pair/register at a time: a second one would take the first one's pending request for an interrupted one.
  const registering = async <T>(work: () => Promise<T>): Promise<T> => {
    const lock = await acquireRegistrationLock(options.stateDir);
    try {
      return await work();
    } finally {
      lock.release();
    }
  };

  return {
    state,
    clock,
    hardwareId,
    hardware,
    version,
    logger,
    pair: (input, pairOptions = {}) => registering(() => pairDevice(pairDeps(pairOptions), input)),
    register: (input, registerOptions = {}) =>
      registering(() =>
        registerThroughSite(
          {
            ...pairDeps(registerOptions),
            ...(registerOptions.confirmFingerprint ? { confirmFingerprint: registerOptions.confirmFingerprint } : {}),
            ...(registerOptions.licenceKeys ? { licenceKeys: registerOptions.licenceKeys } : {}),
          },
          input,
        ),
      ),
    outbox: openOutbox,
    createSession: () =>
      new EdgeSession({
        ...core,
        queueStats: options.queueStats ?? (() => openOutbox().stats()),
        ...(options.random ? { random: options.random } : {}),
        ...(options.reconnectPolicy ? { reconnectPolicy: options.reconnectPolicy } : {}),
        ...(options.siteCheckAfterMs !== undefined ? { siteCheckAfterMs: options.siteCheckAfterMs } : {}),
      }),
    status: (statusOptions) =>
      buildStatusReport(state, clock, hardwareId, version, { ...statusOptions, stateDir: options.stateDir }),
    doctor: () =>
      runDoctor({
        state,
        clock,
        fetch: fetchImpl,
        status: () => buildStatusReport(state, clock, hardwareId, version),
        probeLogin: (registration) => probeConnect(registration),
        localChecks: [
          () => hardwareIdCheck(hardware, options.stateDir),
          () => statePrivacyCheck(options.stateDir),
          () => updateCheck(readUpdateSummary(state.db, options.stateDir, version)),
        ],
      }),
    async reset({ keys }) {
      const { notScrubbed } = deleteSecurely(state.db, () =>
        credentialTransaction(state.db, () => {
          state.registration.delete();
          state.siteEndpoints.clear();
          state.pending.delete();
          state.config.clear();
          state.commands.clear();
          state.status.clear();
          saveSiteRegistration(state.db, null);
          if (keys) state.identity.delete();
        }),
      );
      if (keys) await ensureIdentity(state.identity, new Date(clock.now()));
      logger.info('reset', { keys, ...(notScrubbed ? { notScrubbed } : {}) });
      return notScrubbed ? { notScrubbed } : {};
    },
    close: () => {
      // Commits what producers handed over before the database goes away.
      outbox?.close();
      closeEdgeStores(state);
    },
  };
}

export { EdgeError };
