/**
 * The update jobs in identity.db (migration 3). Every change of state is one transaction that re-reads the row
 * and checks the step against the state machine (job-states.ts), so two callers can never both move a job.
 */
import { statSync } from 'node:fs';
import type { UpdateFailure, UpdateJobState } from '../../protocol/updates.js';
import type { Db } from '../../storage/index.js';
import { canMove } from './job-states.js';

export interface UpdateJob {
  id: number;
  /** Null for an offline install. */
  campaignId: string | null;
  kind: 'runtime' | 'model';
  name: string;
  version: string;
  sha256: string;
  manifestJws: string;
  url: string | null;
  allowDowngrade: boolean;
  /** The version that was running when the job was taken on. */
  fromVersion: string;
  state: UpdateJobState;
  /** Artifact bytes held for certain (the download's resume point). */
  offset: number;
  total: number;
  /** Where the artifact is (the download's partial file, or an offline bundle) and where in that file it starts. */
  artifactPath: string | null;
  artifactOffset: number;
  reason: UpdateFailure | null;
  /** A download waiting to retry after a transient failure: when the next attempt is due (ISO time). */
  downloadRetryAt: string | null;
  /** Attempts in a row that failed without a byte of progress (the backoff's exponent). */
  downloadFailures: number;
  /** Total of the waits so far (the give-up budget). */
  downloadWaitedMs: number;
  createdAt: string;
  updatedAt: string;
}

export type NewJob = Pick<
  UpdateJob,
  | 'campaignId'
  | 'kind'
  | 'name'
  | 'version'
  | 'sha256'
  | 'manifestJws'
  | 'url'
  | 'allowDowngrade'
  | 'fromVersion'
  | 'total'
>;

export interface JobChange {
  offset?: number;
  artifactPath?: string | null;
  artifactOffset?: number;
  /** null clears it (a download that recovered). */
  reason?: UpdateFailure | null;
  downloadRetryAt?: string | null;
  downloadFailures?: number;
  downloadWaitedMs?: number;
}

export class JobTransitionError extends Error {
  override readonly name = 'JobTransitionError';
}

interface Row {
  id: number;
  campaign_id: string | null;
  kind: string;
  name: string;
  version: string;
  sha256: string;
  manifest_jws: string;
  url: string | null;
  allow_downgrade: number;
  from_version: string;
  state: string;
  offset: number;
  total: number;
  artifact_path: string | null;
  artifact_offset: number;
  reason_code: string | null;
  reason_message: string | null;
  download_retry_at: string | null;
  download_failures: number;
  download_waited_ms: number;
  created_at: string;
  updated_at: string;
}

const fromRow = (r: Row): UpdateJob => ({
  id: Number(r.id),
  campaignId: r.campaign_id,
  kind: r.kind as UpdateJob['kind'],
  name: r.name,
  version: r.version,
  sha256: r.sha256,
  manifestJws: r.manifest_jws,
  url: r.url,
  allowDowngrade: r.allow_downgrade === 1,
  fromVersion: r.from_version,
  state: r.state as UpdateJobState,
  offset: Number(r.offset),
  total: Number(r.total),
  artifactPath: r.artifact_path,
  artifactOffset: Number(r.artifact_offset),
  reason: r.reason_code ? { code: r.reason_code, message: r.reason_message ?? '' } : null,
  downloadRetryAt: r.download_retry_at,
  downloadFailures: Number(r.download_failures),
  downloadWaitedMs: Number(r.download_waited_ms),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export class UpdateJobStore {
  constructor(
    private readonly db: Db,
    private readonly now: () => string = () => new Date().toISOString(),
  ) {}

  /** Several steps as one transaction (a superseded job and its successor). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn);
  }

  get(id: number): UpdateJob | undefined {
    const row = this.db.prepare<Row>('SELECT * FROM update_jobs WHERE id = ?').get(id);
    return row ? fromRow(row) : undefined;
  }

  /**
   * Bytes an earlier job of the same artifact left in `partialPath` for certain (a download that failed after its
   * retries keeps its file for the next offer), bounded by what the file holds now.
   */
  keptOffset(sha256: string, partialPath: string, exceptId: number): number {
    const row = this.db
      .prepare<{ offset: number }>(
        'SELECT offset FROM update_jobs WHERE sha256 = ? AND artifact_path = ? AND id <> ? ORDER BY id DESC LIMIT 1',
      )
      .get(sha256, partialPath, exceptId);
    if (!row) return 0;
    try {
      return Math.min(Number(row.offset), statSync(partialPath).size);
    } catch {
      return 0;
    }
  }

  /** The newest job, finished or not: what `update status` and `P/update/state` show. */
  latest(): UpdateJob | undefined {
    const row = this.db.prepare<Row>('SELECT * FROM update_jobs ORDER BY id DESC LIMIT 1').get();
    return row ? fromRow(row) : undefined;
  }

  /** The newest finished job: `status`'s "last result". */
  lastFinished(): UpdateJob | undefined {
    const row = this.db
      .prepare<Row>(
        "SELECT * FROM update_jobs WHERE state IN ('succeeded', 'failed', 'rolled-back', 'cancelled') ORDER BY id DESC LIMIT 1",
      )
      .get();
    return row ? fromRow(row) : undefined;
  }

  /** The newest job for this release, finished or not. */
  latestOf(kind: UpdateJob['kind'], version: string): UpdateJob | undefined {
    const row = this.db
      .prepare<Row>('SELECT * FROM update_jobs WHERE kind = ? AND version = ? ORDER BY id DESC LIMIT 1')
      .get(kind, version);
    return row ? fromRow(row) : undefined;
  }

  /**
   * A rollback the launcher made of a release whose job had already ended: a new row, born `rolled-back`, naming the
   * release (and its campaign) as its last job did, or only the version when no job of it is known. The only row that
   * does not walk the state machine: it records what happened outside it.
   */
  recordRollback(of: UpdateJob | undefined, version: string, reason: UpdateFailure): UpdateJob {
    const at = this.now();
    const { lastInsertRowid } = this.db
      .prepare(
        `INSERT INTO update_jobs (campaign_id, kind, name, version, sha256, manifest_jws, url, allow_downgrade,
           from_version, state, offset, total, reason_code, reason_message, created_at, updated_at)
         VALUES (?, 'runtime', ?, ?, ?, ?, NULL, 0, ?, 'rolled-back', 0, 0, ?, ?, ?, ?)`,
      )
      .run(
        of?.campaignId ?? null,
        of?.name ?? 'consystence-edge',
        version,
        of?.sha256 ?? '0'.repeat(64),
        of?.manifestJws ?? '',
        version,
        reason.code,
        reason.message,
        at,
        at,
      );
    return this.get(Number(lastInsertRowid))!;
  }

  /** The job in progress, if any (there is at most one: `create` finishes the previous one first). */
  active(): UpdateJob | undefined {
    const row = this.db
      .prepare<Row>(
        "SELECT * FROM update_jobs WHERE state NOT IN ('succeeded', 'failed', 'rolled-back', 'cancelled') ORDER BY id DESC LIMIT 1",
      )
      .get();
    return row ? fromRow(row) : undefined;
  }

  /**
   * A new job in `offered`. Meant to run inside the caller's transaction together with finishing the job it
   * replaces (see the engine), so there is never a moment with two active jobs.
   */
  create(job: NewJob): UpdateJob {
    const at = this.now();
    const { lastInsertRowid } = this.db
      .prepare(
        `INSERT INTO update_jobs (campaign_id, kind, name, version, sha256, manifest_jws, url, allow_downgrade,
           from_version, state, offset, total, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'offered', 0, ?, ?, ?)`,
      )
      .run(
        job.campaignId,
        job.kind,
        job.name,
        job.version,
        job.sha256,
        job.manifestJws,
        job.url,
        job.allowDowngrade ? 1 : 0,
        job.fromVersion,
        job.total,
        at,
        at,
      );
    return this.get(Number(lastInsertRowid))!;
  }

  /** Moves a job to `to` (one transaction); throws `JobTransitionError` when the state machine forbids the step. */
  move(id: number, to: UpdateJobState, change: JobChange = {}): UpdateJob {
    return this.db.transaction(() => {
      const job = this.get(id);
      if (!job) throw new JobTransitionError(`update job ${id} does not exist`);
      if (!canMove(job.state, to))
        throw new JobTransitionError(`update job ${id} cannot go from ${job.state} to ${to}`);
      const reason = change.reason === undefined ? job.reason : change.reason;
      this.db
        .prepare(
          `UPDATE update_jobs SET state = ?, offset = ?, artifact_path = ?, artifact_offset = ?, reason_code = ?,
             reason_message = ?, download_retry_at = ?, download_failures = ?, download_waited_ms = ?, updated_at = ?
           WHERE id = ?`,
        )
        .run(
          to,
          change.offset ?? job.offset,
          change.artifactPath === undefined ? job.artifactPath : change.artifactPath,
          change.artifactOffset ?? job.artifactOffset,
          reason?.code ?? null,
          reason?.message ?? null,
          change.downloadRetryAt === undefined ? job.downloadRetryAt : change.downloadRetryAt,
          change.downloadFailures ?? job.downloadFailures,
          change.downloadWaitedMs ?? job.downloadWaitedMs,
          this.now(),
          id,
        );
      return this.get(id)!;
    });
  }
}
