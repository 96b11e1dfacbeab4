/**
 * The device's update engine (issue 13): takes offers from `P/update` (or a bundle file), runs one job at a time
 * through the state machine (job-states.ts), one transaction per transition, and reports every transition
 * retained on `P/update/state`. It resumes whatever a power cut interrupted: the job row says which step to
 * repeat, and every step is safe to repeat.
 *
 * At start it also reads what happened across the restart: `update/rollback` (the launcher went back: the job is
 * `rolled-back`), `update/trial` naming this version (the job is on `trial` until it holds online for the window,
 * then commits), and a job left half-done by a power cut (resumed).
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../common/log/log.js';
import { backoffDelay, type BackoffPolicy } from '../backoff.js';
import { sleep } from '../../common/time/sleep.js';
import { checkArtifact } from '../../protocol/release-bundle.js';
import { decodeProtectedHeader, decodeJwt } from 'jose';
import { ReleaseManifest } from '../../protocol/release.js';
import {
  parsePayload,
  UpdateMessage,
  type UpdateFailure,
  type UpdateJobState,
  type UpdateOffer,
  type UpdateStateReport,
} from '../../protocol/index.js';
import { DownloadInterrupted, downloadOnce, type DownloadTarget } from './download.js';
import { InstallError, type Installer } from './installer.js';
import { isBeforeInstall, isFinal } from './job-states.js';
import { JobTransitionError, type UpdateJobStore, type UpdateJob, type JobChange } from './job-store.js';
import { checkSpace, machineArch, UpdateRefused, verifyOffer } from './prechecks.js';
import { rollbackReason } from './rollback-reason.js';
import { ensureDir, linkTarget, readRollback, readTrial, removeIfPresent, type UpdatePaths } from './state-files.js';
import type { ReleaseKeyStore } from './trust/release-key-store.js';

/** Progress is reported at most this often (transitions are reported at once). */
export const PROGRESS_REPORT_MS = 5000;
export const DEFAULT_TRIAL_SECONDS = 120;
/**
 * A download that fails for a transient reason (no link, a timeout, 5xx/429, a cut connection) waits and tries
 * again, as Mender and thin-edge do: 30 s doubling to 1 h (with jitter, so a site's edges do not retry in step),
 * and at once when the session comes back online. It is given up (`DOWNLOAD_FAILED`) only after
 * `update.downloadRetryHours` of waits without a byte of progress.
 */
const DOWNLOAD_BACKOFF: BackoffPolicy = { baseMs: 30_000, capMs: 3_600_000, minMs: 15_000 };
export const DEFAULT_DOWNLOAD_RETRY_HOURS = 24;

export interface UpdateSettings {
  maxDownloadKbps?: number;
  trialSeconds?: number;
  downloadRetryHours?: number;
}

export interface UpdateEngineOptions {
  paths: UpdatePaths;
  jobs: UpdateJobStore;
  keys: ReleaseKeyStore;
  installers: Partial<Record<'runtime' | 'model', Installer>>;
  runningVersion: string;
  logger: Logger;
  /** The running config's `update` key. */
  settings: () => UpdateSettings;
  /** Where to fetch from and with what token (the registration, read when a download starts). */
  downloadTarget: (url: string) => DownloadTarget;
  /** Publishes `P/update/state` retained; a failure is fine (the report is sent again on reconnect). */
  publish: (report: UpdateStateReport) => Promise<void>;
  /** Ends the process with `EXIT_RESTART_FOR_UPDATE` after a clean shutdown. */
  requestRestart: () => void;
  now?: () => Date;
  arch?: 'x64' | 'arm64' | null;
  /** Free space of the state dir (tests); default statfs. */
  space?: (dir: string) => { free: number; total: number };
  downloadBackoff?: BackoffPolicy;
  readTimeoutMs?: number;
}

export class UpdateEngine {
  private running: { jobId: number; abort: AbortController; done: Promise<void> } | null = null;
  private trialTimer: ReturnType<typeof setTimeout> | null = null;
  /** Online time the trial of this process has held so far, and since when it is online (monotonic ms). */
  private trialHeld = { ms: 0, onlineSince: 0 };
  private lastProgressReport = 0;
  private stopped = false;
  /** Ends the wait of a download between attempts (the session came back online). */
  private wakeRetry: (() => void) | null = null;

  constructor(private readonly options: UpdateEngineOptions) {}

  private get jobs(): UpdateJobStore {
    return this.options.jobs;
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  /** What happened across the restart, then the job a power cut interrupted. Call once, before the session starts. */
  start(): void {
    this.settleRollback();
    this.settleTrial();
    const job = this.jobs.active();
    if (job && job.state !== 'trial' && job.state !== 'restarting') this.drive(job);
  }

  private settleRollback(): void {
    const record = readRollback(this.options.paths);
    if (!record) return;
    const reason = rollbackReason(record);
    const job = this.jobs.active();
    const latest = this.jobs.latest();
    if (job && job.version === record.from) this.transition(job, 'rolled-back', { reason });
    else if (
      !(latest?.state === 'rolled-back' && latest.version === record.from && latest.reason?.code === reason.code)
    ) {
      // The launcher went back from a release whose job had ended (a committed release and a damaged update/trial):
      // a new result, so the site and `update status` see it; the finished job keeps its own history.
      this.report(this.jobs.recordRollback(this.jobs.latestOf('runtime', record.from), record.from, reason));
    }
    // Removed only once a job records it (a power cut before this line reads the record again, and the check above
    // keeps it from being recorded twice).
    removeIfPresent(this.options.paths.rollback);
    this.options.logger.warn('update_rolled_back', { ...record });
  }

  private settleTrial(): void {
    const job = this.jobs.active();
    if (job?.kind !== 'runtime') return;
    const trial = readTrial(this.options.paths);
    const mine = job.version === this.options.runningVersion;
    if (mine && (job.state === 'installing' || job.state === 'restarting')) {
      // The launcher started the new version. Without a trial record it was already committed (the rename of
      // the record is the commit's first step): finish what a power cut interrupted.
      this.transition(job, 'trial');
      if (!trial) this.commit().catch((error: unknown) => this.options.logger.error('update_commit_failed', { error }));
    } else if (mine && job.state === 'trial' && !trial) {
      this.commit().catch((error: unknown) => this.options.logger.error('update_commit_failed', { error }));
    } else if (!mine && (job.state === 'restarting' || job.state === 'trial')) {
      // The old version runs although the switch was made, and the launcher left no record (it was replaced,
      // or the device ran without it): the new version never started here.
      this.transition(job, 'rolled-back', {
        reason: {
          code: 'START_FAILED',
          message: `version ${job.version} was installed but ${this.options.runningVersion} started`,
        },
      });
    }
  }

  /**
   * Session online: report the current job again (retained state may have been lost), retry a waiting download at
   * once, and start the trial clock.
   */
  online(): void {
    const job = this.jobs.latest();
    if (job) this.report(job);
    if (this.wakeRetry) {
      // The link is back: the site server is likely reachable again, so the download need not wait out its backoff.
      this.options.logger.info('update_download_retry_now', { reason: 'online' });
      this.wakeRetry();
    }
    const active = this.jobs.active();
    if (active?.state === 'trial' && !this.trialTimer) {
      // The record's window first: the launcher times the trial with it, whatever the config says since.
      const windowS =
        readTrial(this.options.paths)?.windowS || (this.options.settings().trialSeconds ?? DEFAULT_TRIAL_SECONDS);
      // The window counts online time in all: a blip of the site link costs its length, not the whole window
      // (the launcher's deadline leaves room for that: docs/updates.md, "The trial").
      const leftMs = Math.max(0, windowS * 1000 - this.trialHeld.ms);
      this.trialHeld.onlineSince = performance.now();
      this.options.logger.info('update_trial_clock', { version: active.version, windowS, leftS: leftMs / 1000 });
      this.trialTimer = setTimeout(() => {
        this.trialTimer = null;
        this.commit().catch((error: unknown) => this.options.logger.error('update_commit_failed', { error }));
      }, leftMs);
    }
  }

  /** Session offline: the trial's clock pauses; what it held online so far still counts. */
  offline(): void {
    if (this.trialTimer) {
      clearTimeout(this.trialTimer);
      this.trialHeld.ms += performance.now() - this.trialHeld.onlineSince;
    }
    this.trialTimer = null;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.offline();
    const running = this.running;
    running?.abort.abort();
    await running?.done;
  }

  /** Resolves when the job being driven now (if any) has stopped moving: for tests and the CLI. */
  async settled(): Promise<void> {
    while (this.running) await this.running.done;
  }

  /** A `P/update` message: an offer, a cancel, or empty (the site server cleared it after a final state). */
  async handleMessage(payload: Buffer): Promise<void> {
    if (payload.length === 0) return;
    const parsed = parsePayload(UpdateMessage, payload);
    if (!parsed.ok) {
      this.options.logger.warn('update_message_invalid', { error: parsed.error });
      return;
    }
    const message = parsed.value;
    if ('cancelled' in message) await this.cancel(message.campaignId);
    else await this.offer(message);
  }

  private async cancel(campaignId: string): Promise<void> {
    const job = this.jobs.active();
    if (!job || job.campaignId !== campaignId) return;
    if (!isBeforeInstall(job.state)) {
      this.options.logger.info('update_cancel_too_late', { version: job.version, state: job.state });
      return;
    }
    await this.abortRunning(job.id);
    this.transition(job, 'cancelled', { reason: { code: 'CANCELLED', message: 'the campaign was cancelled' } });
  }

  private async offer(offer: UpdateOffer): Promise<void> {
    const claimed = claimedManifest(offer.manifest);
    const latest = this.jobs.latest();
    if (latest && latest.campaignId === offer.campaignId && latest.sha256 === claimed.sha256) {
      // The same offer again (retained, delivered at every connect): the same job.
      this.report(latest);
      if (!isFinal(latest.state) && !this.running && latest.state !== 'trial' && latest.state !== 'restarting')
        this.drive(latest);
      return;
    }
    const active = this.jobs.active();
    if (active && !isBeforeInstall(active.state)) {
      this.options.logger.info('update_offer_deferred', { busyWith: active.version, state: active.state });
      return;
    }
    let manifest: ReleaseManifest;
    try {
      manifest = await verifyOffer(
        {
          manifestJws: offer.manifest,
          ...(offer.releaseKeys ? { releaseKeys: offer.releaseKeys } : {}),
          allowDowngrade: offer.allowDowngrade,
          runningVersion: this.options.runningVersion,
          arch: this.options.arch === undefined ? machineArch() : this.options.arch,
        },
        this.options.keys,
      );
    } catch (error) {
      if (!(error instanceof UpdateRefused)) throw error;
      this.refuse({ ...claimed, campaignId: offer.campaignId, manifestJws: offer.manifest }, error, active);
      return;
    }
    if (active) await this.abortRunning(active.id);
    const created = this.replaceActive(active, () =>
      this.jobs.create({
        campaignId: offer.campaignId,
        kind: manifest.kind,
        name: manifest.name,
        version: manifest.version,
        sha256: manifest.sha256,
        manifestJws: offer.manifest,
        url: offer.url,
        allowDowngrade: offer.allowDowngrade,
        fromVersion: this.options.runningVersion,
        total: manifest.size,
      }),
    );
    this.drive(created);
  }

  /**
   * `update install --file`: the same checks as an offer, then the same install path. The artifact is read in
   * place from the bundle (offset after its manifest line). Resolves once the job has stopped moving.
   */
  async installFile(
    bundle: { path: string; manifestJws: string; artifactOffset: number },
    allowDowngrade: boolean,
  ): Promise<UpdateJob> {
    const manifest = await verifyOffer(
      {
        manifestJws: bundle.manifestJws,
        allowDowngrade,
        runningVersion: this.options.runningVersion,
        arch: this.options.arch === undefined ? machineArch() : this.options.arch,
      },
      this.options.keys,
    );
    const active = this.jobs.active();
    if (active && !isBeforeInstall(active.state)) {
      if (active.sha256 !== manifest.sha256)
        throw new UpdateRefused('BUSY', `an update to ${active.version} is ${active.state}; wait for it to finish`);
      if (active.state !== 'installing') return active; // already installed: the same bundle again changes nothing
      // The same bundle, its install cut short (a power cut, a kill): finish it, reading the file given now.
      this.drive(
        this.jobs.move(active.id, 'installing', { artifactPath: bundle.path, artifactOffset: bundle.artifactOffset }),
      );
      await this.settled();
      return this.jobs.get(active.id)!;
    }
    const installer = this.options.installers[manifest.kind];
    if (!installer)
      throw new UpdateRefused('BAD_MANIFEST', `this device has no installer for ${manifest.kind} releases`);
    // The artifact is read in place: only the install needs room.
    checkSpace(this.options.paths.stateDir, manifest.installedSize, this.options.space);
    const created = this.replaceActive(active, () => {
      const job = this.jobs.create({
        campaignId: null,
        kind: manifest.kind,
        name: manifest.name,
        version: manifest.version,
        sha256: manifest.sha256,
        manifestJws: bundle.manifestJws,
        url: null,
        allowDowngrade,
        fromVersion: this.options.runningVersion,
        total: manifest.size,
      });
      return this.jobs.move(job.id, 'downloaded', {
        offset: manifest.size,
        artifactPath: bundle.path,
        artifactOffset: bundle.artifactOffset,
      });
    });
    this.drive(created);
    await this.settled();
    return this.jobs.get(created.id)!;
  }

  /** Finishes the job a new one replaces (SUPERSEDED) and creates the new one, in one transaction. */
  private replaceActive(active: UpdateJob | undefined, create: () => UpdateJob): UpdateJob {
    const { job, superseded } = this.jobs.transaction(() => ({
      superseded: active
        ? this.jobs.move(active.id, 'failed', {
            reason: { code: 'SUPERSEDED', message: 'a newer offer replaced this one before it was installed' },
          })
        : undefined,
      job: create(),
    }));
    if (superseded) this.report(superseded);
    this.report(job);
    return job;
  }

  private refuse(
    claimed: {
      kind: 'runtime' | 'model';
      name: string;
      version: string;
      sha256: string;
      campaignId: string;
      manifestJws: string;
    },
    error: UpdateRefused,
    active: UpdateJob | undefined,
  ): void {
    this.options.logger.warn('update_refused', { code: error.code, reason: error.message, version: claimed.version });
    if (active) return; // a job in progress is not disturbed by an offer that cannot be used
    const job = this.jobs.transaction(() => {
      const created = this.jobs.create({
        campaignId: claimed.campaignId,
        kind: claimed.kind,
        name: claimed.name,
        version: claimed.version,
        sha256: claimed.sha256,
        manifestJws: claimed.manifestJws,
        url: null,
        allowDowngrade: false,
        fromVersion: this.options.runningVersion,
        total: 0,
      });
      return this.jobs.move(created.id, 'failed', { reason: { code: error.code, message: error.message } });
    });
    this.report(job);
  }

  private async abortRunning(jobId: number): Promise<void> {
    const running = this.running;
    if (running?.jobId !== jobId) return;
    running.abort.abort();
    await running.done;
  }

  /** Runs a job from its state to the end (or to the restart), unless one is already being driven. */
  private drive(job: UpdateJob): void {
    if (this.running || this.stopped) return;
    const abort = new AbortController();
    const done = this.steps(job, abort.signal)
      .catch((error: unknown) => this.options.logger.error('update_job_failed', { error, version: job.version }))
      .finally(() => {
        if (this.running?.jobId === job.id) this.running = null;
      });
    this.running = { jobId: job.id, abort, done };
  }

  private async steps(start: UpdateJob, signal: AbortSignal): Promise<void> {
    let job = start;
    try {
      const manifest = (await verifyOffer(
        {
          manifestJws: job.manifestJws,
          allowDowngrade: job.allowDowngrade,
          runningVersion: job.fromVersion,
          arch: this.options.arch === undefined ? machineArch() : this.options.arch,
        },
        this.options.keys,
      )) as ReleaseManifest;
      const installer = this.options.installers[manifest.kind];
      if (!installer)
        throw new UpdateRefused('BAD_MANIFEST', `this device has no installer for ${manifest.kind} releases`);
      if (job.state === 'offered') {
        // Before anything is written, the folders too: a refusal leaves the state dir as it was.
        const needed = manifest.size + manifest.installedSize;
        checkSpace(this.options.paths.stateDir, needed, this.options.space);
        ensureDir(this.options.paths.update);
        ensureDir(this.options.paths.downloads);
        const partial = this.options.paths.partial(manifest.sha256);
        await removeStalePartials(this.options.paths.downloads, partial);
        job = this.transition(job, 'downloading', {
          artifactPath: partial,
          offset: this.jobs.keptOffset(manifest.sha256, partial, job.id),
        });
      }
      if (job.state === 'downloading') {
        await this.download(job, manifest, signal);
        if (signal.aborted) return;
        job = this.transition(this.jobs.get(job.id)!, 'downloaded', { reason: null, downloadRetryAt: null });
      }
      if (job.state === 'downloaded') {
        await checkArtifact(job.artifactPath!, job.artifactOffset, manifest).catch(async (error: Error) => {
          if (job.campaignId) await rm(job.artifactPath!, { force: true });
          throw new UpdateRefused('HASH_MISMATCH', error.message);
        });
        if (signal.aborted) return;
        job = this.transition(job, 'verified');
      }
      if (job.state === 'verified') job = this.transition(job, 'installing');
      if (job.state === 'installing') {
        try {
          await installer.checkSpace(manifest);
          await installer.install({ manifest, manifestJws: job.manifestJws }, job.artifactPath!, job.artifactOffset);
        } catch (error) {
          if (error instanceof InstallError) throw new UpdateRefused(error.code, error.message);
          throw new UpdateRefused('INSTALL_FAILED', `the install failed: ${(error as Error).message}`);
        }
        if (job.campaignId) await rm(job.artifactPath!, { force: true });
        if (installer.needsRestart) {
          job = this.transition(job, 'restarting');
          this.options.logger.info('update_restarting', { version: job.version });
          this.options.requestRestart();
        } else {
          await installer.commit({ manifest });
          this.transition(job, 'succeeded');
        }
      }
    } catch (error) {
      if (error instanceof JobTransitionError || signal.aborted) return; // cancelled or superseded meanwhile
      const current = this.jobs.get(job.id)!;
      const reason =
        error instanceof UpdateRefused
          ? { code: error.code, message: error.message }
          : { code: 'INSTALL_FAILED', message: (error as Error).message };
      if (!isFinal(current.state)) this.transition(current, 'failed', { reason });
    }
  }

  private async download(job: UpdateJob, manifest: ReleaseManifest, signal: AbortSignal): Promise<void> {
    for (;;) {
      const waitMs = this.retryWait(this.jobs.get(job.id)!);
      if (waitMs > 0) await this.waitForRetry(waitMs, signal);
      if (signal.aborted) return;
      const before = this.jobs.get(job.id)!;
      try {
        await downloadOnce({
          target: this.options.downloadTarget(before.url!),
          partialPath: before.artifactPath!,
          offset: before.offset,
          size: manifest.size,
          sha256: manifest.sha256,
          maxKbps: () => this.options.settings().maxDownloadKbps,
          onProgress: (offset) => this.progress(job.id, offset),
          signal,
          ...(this.options.readTimeoutMs ? { readTimeoutMs: this.options.readTimeoutMs } : {}),
        });
        return;
      } catch (error) {
        if (!(error instanceof DownloadInterrupted) || signal.aborted) throw error;
        this.scheduleRetry(job.id, before.offset, error);
      }
    }
  }

  private get downloadBackoff(): BackoffPolicy {
    return this.options.downloadBackoff ?? DOWNLOAD_BACKOFF;
  }

  /** What is left of a persisted wait; never more than the longest backoff (a clock that jumped cannot park it). */
  private retryWait(job: UpdateJob): number {
    if (!job.downloadRetryAt) return 0;
    const remaining = Date.parse(job.downloadRetryAt) - this.now().getTime();
    return Math.max(0, Math.min(remaining, this.downloadBackoff.capMs));
  }

  /**
   * A transient failure: persist when the next attempt is due and report it (`downloading` with the reason), or
   * give up once the waits without progress add up to `update.downloadRetryHours`. An attempt that brought bytes
   * starts the count again: the link works, if badly.
   */
  private scheduleRetry(id: number, offsetBefore: number, error: DownloadInterrupted): void {
    const job = this.jobs.get(id)!;
    const progressed = job.offset > offsetBefore;
    const failures = progressed ? 1 : job.downloadFailures + 1;
    const waitedMs = progressed ? 0 : job.downloadWaitedMs;
    const hours = this.options.settings().downloadRetryHours ?? DEFAULT_DOWNLOAD_RETRY_HOURS;
    if (waitedMs >= hours * 3_600_000)
      throw new UpdateRefused(
        'DOWNLOAD_FAILED',
        `${error.message} (${failures} attempts over ${hours} h of retries; the partial file is kept)`,
      );
    const delay = backoffDelay(failures - 1, this.downloadBackoff);
    const retryAt = new Date(this.now().getTime() + delay).toISOString();
    const waiting = this.jobs.move(id, 'downloading', {
      downloadRetryAt: retryAt,
      downloadFailures: failures,
      downloadWaitedMs: waitedMs + delay,
      reason: { code: 'DOWNLOAD_RETRYING', message: `${error.message}; attempt ${failures + 1} at ${retryAt}` },
    });
    this.options.logger.warn('update_download_retry', { failures, retryAt, reason: error.message });
    this.report(waiting);
  }

  /** The backoff wait: ends early when the job is stopped or the session comes back online. */
  private async waitForRetry(ms: number, signal: AbortSignal): Promise<void> {
    const wake = new AbortController();
    const end = () => wake.abort();
    signal.addEventListener('abort', end, { once: true });
    this.wakeRetry = end;
    try {
      await sleep(ms, { signal: wake.signal });
    } finally {
      this.wakeRetry = null;
      signal.removeEventListener('abort', end);
    }
  }

  /** The certain offset, persisted; reported at most every PROGRESS_REPORT_MS. */
  private progress(id: number, offset: number): void {
    // Bytes flow again: the retry reason and its schedule are over.
    const job = this.jobs.move(id, 'downloading', { offset, reason: null, downloadRetryAt: null });
    const now = performance.now();
    if (now - this.lastProgressReport >= PROGRESS_REPORT_MS) {
      this.lastProgressReport = now;
      this.report(job);
    }
  }

  /** The trial held: the installer commits (the trial record goes first), then the job succeeds. */
  private async commit(): Promise<void> {
    const job = this.jobs.active();
    if (job?.state !== 'trial' || job.version !== this.options.runningVersion) return;
    await this.options.installers[job.kind]?.commit({ manifest: signedManifest(job.manifestJws) });
    this.transition(job, 'succeeded');
    this.options.logger.info('update_committed', {
      version: job.version,
      current: linkTarget(this.options.paths.current),
    });
  }

  private transition(job: UpdateJob, to: UpdateJobState, change: JobChange = {}): UpdateJob {
    const moved = this.jobs.move(job.id, to, change);
    this.options.logger.info('update_state', {
      version: moved.version,
      state: to,
      ...(moved.reason && isFinal(to) ? { reason: moved.reason.code, detail: moved.reason.message } : {}),
    });
    this.report(moved);
    return moved;
  }

  /** The job as `P/update/state` carries it. */
  stateReport(job: UpdateJob): UpdateStateReport {
    return {
      campaignId: job.campaignId,
      kind: job.kind,
      name: job.name,
      version: job.version,
      state: job.state,
      ...(job.state === 'downloading' || job.state === 'downloaded'
        ? { progress: { bytes: job.offset, total: job.total } }
        : {}),
      ...(job.reason && (job.state === 'downloading' || isFinal(job.state))
        ? { reason: job.reason as UpdateFailure }
        : {}),
      runningVersion: this.options.runningVersion,
      at: this.now().toISOString(),
    };
  }

  private report(job: UpdateJob): void {
    this.options
      .publish(this.stateReport(job))
      .catch((error: unknown) => this.options.logger.debug('update_state_not_published', { error }));
  }
}

/** Partial files of other releases are never resumed again: only the one being downloaded stays. */
async function removeStalePartials(dir: string, keep: string): Promise<void> {
  for (const name of await readdir(dir)) if (join(dir, name) !== keep) await rm(join(dir, name), { force: true });
}

/** The manifest of a job's JWS, verified when the job was taken on (the trial commits what was installed). */
function signedManifest(jws: string): ReleaseManifest {
  return ReleaseManifest.parse(decodeJwt(jws));
}

/**
 * What an offer's manifest claims, read without verifying, only to name the job a refusal is reported for (a
 * bad signature must still be reported against the version the site server offered).
 */
function claimedManifest(jws: string): { kind: 'runtime' | 'model'; name: string; version: string; sha256: string } {
  try {
    decodeProtectedHeader(jws);
    const claims = decodeJwt(jws) as Record<string, unknown>;
    const text = (v: unknown, fallback: string, pattern: RegExp) =>
      typeof v === 'string' && pattern.test(v) ? v : fallback;
    return {
      kind: claims.kind === 'model' ? 'model' : 'runtime',
      name: text(claims.name, 'unknown', /^[a-z0-9][a-z0-9-]{0,62}$/),
      version: text(claims.version, '0.0.0', /^[0-9A-Za-z][0-9A-Za-z.+-]{0,63}$/),
      sha256: text(claims.sha256, '0'.repeat(64), /^[0-9a-f]{64}$/),
    };
  } catch {
    return { kind: 'runtime', name: 'unknown', version: '0.0.0', sha256: '0'.repeat(64) };
  }
}
