/**
 * What `update status`, `status` and `doctor` show about updates, read from the database and the state dir only
 * (the service may be another process, or down): the running version and where the release links point, the job
 * in progress, the last result, and a trial or rollback the launcher has not yet seen answered.
 */
import { lstatSync } from 'node:fs';
import type { Db } from '../../storage/index.js';
import type { CheckResult } from '../status/doctor.js';
import { UpdateJobStore, type UpdateJob } from './job-store.js';
import { rollbackReason } from './rollback-reason.js';
import {
  FACTORY,
  linkTarget,
  readRollback,
  readTrial,
  type RollbackRecord,
  type TrialRecord,
  updatePaths,
} from './state-files.js';

export interface JobView {
  campaignId: string | null;
  kind: string;
  version: string;
  state: string;
  progress?: { bytes: number; total: number };
  reason?: { code: string; message: string };
  updatedAt: string;
}

export interface UpdateSummary {
  runningVersion: string;
  /** Where `releases/current` and `releases/previous` point (null: none, the packaged binary runs). */
  current: string | null;
  previous: string | null;
  inProgress: JobView | null;
  last: JobView | null;
  trial: TrialRecord | null;
  rollback: RollbackRecord | null;
  /** When the launcher set an unreadable `update/trial` aside as `update/trial.invalid` (its mtime), if it did. */
  invalidTrial: { at: string } | null;
}

const view = (job: UpdateJob | undefined): JobView | null =>
  job
    ? {
        campaignId: job.campaignId,
        kind: job.kind,
        version: job.version,
        state: job.state,
        ...(job.state === 'downloading' ? { progress: { bytes: job.offset, total: job.total } } : {}),
        ...(job.reason ? { reason: job.reason } : {}),
        updatedAt: job.updatedAt,
      }
    : null;

/** A database from before migration 3 (read-only commands do not migrate) has no jobs yet. */
const hasJobs = (db: Db) =>
  db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'update_jobs'").get() !== undefined;

export function readUpdateSummary(db: Db, stateDir: string, runningVersion: string): UpdateSummary {
  const paths = updatePaths(stateDir);
  const jobs = hasJobs(db) ? new UpdateJobStore(db) : undefined;
  const rollback = readRollback(paths);
  const jobsView = pendingRollback(
    { inProgress: view(jobs?.active()), last: view(jobs?.lastFinished()) },
    rollback,
    setAsideAt(paths.rollback)?.at,
  );
  return {
    runningVersion,
    current: linkTarget(paths.current) ?? null,
    previous: linkTarget(paths.previous) ?? null,
    ...jobsView,
    trial: readTrial(paths) ?? null,
    rollback: rollback ?? null,
    invalidTrial: setAsideAt(paths.invalidTrial),
  };
}

/**
 * The jobs as they will be once the running version records the launcher's rollback (engine.settleRollback): the
 * job of the release rolled back is over, `rolled-back` with the record's reason. Until then the database says
 * what it said before the switch (the launcher restored that snapshot), and a read-only command writes nothing.
 */
function pendingRollback(
  jobs: { inProgress: JobView | null; last: JobView | null },
  record: RollbackRecord | undefined,
  writtenAt: string | undefined,
): { inProgress: JobView | null; last: JobView | null } {
  const { inProgress, last } = jobs;
  if (!record) return jobs;
  if (last?.state === 'rolled-back' && last.version === record.from && last.reason?.code === record.reason) return jobs;
  // Otherwise the job of a release that had committed: the engine records the rollback as a new result.
  const rolledBack = inProgress?.version === record.from ? inProgress : null;
  return {
    inProgress: rolledBack ? null : inProgress,
    last: {
      campaignId: rolledBack?.campaignId ?? null,
      kind: rolledBack?.kind ?? 'runtime',
      version: record.from,
      state: 'rolled-back',
      reason: rollbackReason(record),
      updatedAt: writtenAt ?? rolledBack?.updatedAt ?? '-',
    },
  };
}

function setAsideAt(path: string): { at: string } | null {
  const stat = lstatSync(path, { throwIfNoEntry: false });
  return stat ? { at: stat.mtime.toISOString() } : null;
}

const INVALID_TRIAL_FIX =
  'look at update/trial.invalid and the journal (journalctl -u consystence-edge) for who or what wrote it (owner, disk errors in dmesg), then remove update/trial.invalid';

const describeJob = (job: JobView) =>
  `${job.kind} ${job.version}: ${job.state}${job.progress ? ` (${job.progress.bytes} of ${job.progress.total} bytes)` : ''}${job.reason ? ` — ${job.reason.code}: ${job.reason.message}` : ''} (${job.updatedAt}${job.campaignId ? `, campaign ${job.campaignId}` : ', offline install'})`;

export function formatUpdateSummary(s: UpdateSummary): string[] {
  return [
    // The version of the binary that prints this; the service runs what the launcher picks, which may differ.
    `this binary:      ${s.runningVersion}`,
    `service starts:   ${s.current ? `releases/current -> ${s.current} (previous -> ${s.previous ?? '-'})` : 'the packaged binary'}`,
    `update:           ${s.inProgress ? describeJob(s.inProgress) : 'none in progress'}`,
    `last update:      ${s.last ? describeJob(s.last) : '-'}`,
    ...(s.trial
      ? [`trial:            ${s.trial.version} on trial (back to ${s.trial.previous} if it does not commit)`]
      : []),
    ...(s.rollback
      ? [
          `rollback:         ${s.rollback.from} -> ${s.rollback.to} (${s.rollback.reason}), not yet reported by the service`,
        ]
      : []),
    ...(s.invalidTrial
      ? [`damaged trial:    update/trial.invalid (${s.invalidTrial.at}): the launcher could not read update/trial`]
      : []),
  ];
}

/** doctor's row: a trial or a rollback waiting is worth a look, a failed last update too. */
export function updateCheck(summary: UpdateSummary): CheckResult {
  const name = 'update';
  if (summary.rollback)
    return {
      name,
      level: 'warn',
      ok: true,
      detail: `the launcher rolled back ${summary.rollback.from} to ${summary.rollback.to} (${summary.rollback.reason}); the service reports it when it runs`,
      fix: `start the service (systemctl start consystence-edge), then see consystence-edge update status${summary.rollback.reason === 'INVALID_TRIAL' ? `; ${INVALID_TRIAL_FIX}` : ''}`,
    };
  if (summary.invalidTrial)
    return {
      name,
      level: 'warn',
      ok: true,
      detail: `the launcher found an unreadable update/trial (damaged or planted) and set it aside as update/trial.invalid at ${summary.invalidTrial.at}; it rolled back only if the release was on trial and had a previous one to go to (update status shows a rolled-back INVALID_TRIAL result if it did)`,
      fix: INVALID_TRIAL_FIX,
    };
  if (summary.trial)
    return {
      name,
      level: 'warn',
      ok: true,
      detail: `version ${summary.trial.version} is on trial: it commits after ${summary.trial.windowS} s online, else the launcher goes back to ${summary.trial.previous}`,
    };
  if (summary.last && summary.last.state !== 'succeeded' && summary.last.state !== 'cancelled')
    return {
      name,
      level: 'warn',
      ok: true,
      detail: `the last update (${summary.last.version}) ended ${summary.last.state}${summary.last.reason ? `: ${summary.last.reason.code} ${summary.last.reason.message}` : ''}`,
    };
  const runs = `the service runs ${serviceVersion(summary)}`;
  if (summary.inProgress)
    return { name, level: 'ok', ok: true, detail: `${runs}; in progress: ${describeJob(summary.inProgress)}` };
  return {
    name,
    level: 'ok',
    ok: true,
    detail: `${runs}; ${summary.last ? `last update ${describeJob(summary.last)}` : 'no update pending'}`,
  };
}

/**
 * What the launcher starts, which is not the version of the binary printing this once an update committed: the
 * release `releases/current` names, else the packaged binary (this one).
 */
function serviceVersion(summary: UpdateSummary): string {
  return summary.current && summary.current !== FACTORY
    ? `${summary.current} (releases/current)`
    : `${summary.runningVersion} (the packaged binary)`;
}
