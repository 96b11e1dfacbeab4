/**
 * Update campaigns and their per-edge progress. A campaign is `active` until cancelled (by an admin, or by a newer
 * campaign for the same site and release kind+name, which supersedes it); rows are never deleted.
 */
import type { CampaignProgressReport, ReleaseKind } from '../../../protocol/index.js';
import { UpdateJobStates } from '../../../protocol/index.js';
import type { Db } from '../../../storage/index.js';

export interface CampaignRow {
  id: string;
  orgId: string;
  siteId: string;
  releaseId: string;
  /** The targeted edge ids; null = every edge of the site, including ones paired later. */
  edges: string[] | null;
  allowDowngrade: boolean;
  createdBy: string;
  createdAt: string;
  cancelledAt: string | null;
}
interface RawCampaignRow extends Omit<CampaignRow, 'edges' | 'allowDowngrade'> {
  edges: string | null;
  allowDowngrade: number;
}

export type EdgeProgressReport = CampaignProgressReport['edges'][number];
export interface ProgressRow extends EdgeProgressReport {
  campaignId: string;
}
interface RawProgressRow {
  campaignId: string;
  edgeId: string;
  state: ProgressRow['state'];
  progress: string | null;
  reason: string | null;
  runningVersion: string | null;
  at: string;
}

const COLUMNS = `c.id, c.org_id AS orgId, c.site_id AS siteId, c.release_id AS releaseId, c.edges,
  c.allow_downgrade AS allowDowngrade, c.created_by AS createdBy, c.created_at AS createdAt, c.cancelled_at AS cancelledAt`;
const fromRaw = (row: RawCampaignRow): CampaignRow => ({
  ...row,
  edges: row.edges === null ? null : (JSON.parse(row.edges) as string[]),
  allowDowngrade: row.allowDowngrade === 1,
});

export function findCampaign(db: Db, siteId: string, campaignId: string): CampaignRow | undefined {
  const row = db
    .prepare<RawCampaignRow>(`SELECT ${COLUMNS} FROM update_campaigns c WHERE c.id = ? AND c.site_id = ?`)
    .get(campaignId, siteId);
  return row && fromRaw(row);
}

/** Newest first. */
export function listSiteCampaigns(db: Db, siteId: string): CampaignRow[] {
  return db
    .prepare<RawCampaignRow>(
      `SELECT ${COLUMNS} FROM update_campaigns c WHERE c.site_id = ? ORDER BY c.created_at DESC, c.rowid DESC`,
    )
    .all(siteId)
    .map(fromRaw);
}

/** The active campaigns of a site for releases of this kind and name (at most one, kept so by `createCampaign`). */
export function activeCampaignsFor(db: Db, siteId: string, release: { kind: ReleaseKind; name: string }) {
  return db
    .prepare<RawCampaignRow>(
      `SELECT ${COLUMNS} FROM update_campaigns c JOIN releases r ON r.id = c.release_id
       WHERE c.site_id = ? AND c.cancelled_at IS NULL AND r.kind = ? AND r.name = ?`,
    )
    .all(siteId, release.kind, release.name)
    .map(fromRaw);
}

export function siteHasActiveCampaignFor(db: Db, siteId: string, releaseId: string): boolean {
  return (
    db
      .prepare('SELECT 1 FROM update_campaigns WHERE site_id = ? AND release_id = ? AND cancelled_at IS NULL')
      .get(siteId, releaseId) !== undefined
  );
}

export function insertCampaign(db: Db, row: CampaignRow): void {
  db.prepare(
    `INSERT INTO update_campaigns (id, org_id, site_id, release_id, edges, allow_downgrade, created_by, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    row.id,
    row.orgId,
    row.siteId,
    row.releaseId,
    row.edges === null ? null : JSON.stringify(row.edges),
    row.allowDowngrade ? 1 : 0,
    row.createdBy,
    row.createdAt,
  );
}

export function markCampaignCancelled(db: Db, campaignId: string, at: string): void {
  db.prepare('UPDATE update_campaigns SET cancelled_at = ? WHERE id = ? AND cancelled_at IS NULL').run(at, campaignId);
}

export function listProgress(db: Db, campaignId: string): ProgressRow[] {
  return db
    .prepare<RawProgressRow>(
      `SELECT campaign_id AS campaignId, edge_id AS edgeId, state, progress, reason, running_version AS runningVersion, at
       FROM update_campaign_progress WHERE campaign_id = ? ORDER BY rowid`,
    )
    .all(campaignId)
    .map((row) => ({
      campaignId: row.campaignId,
      edgeId: row.edgeId,
      state: row.state,
      at: row.at,
      ...(row.progress ? { progress: JSON.parse(row.progress) as ProgressRow['progress'] } : {}),
      ...(row.reason ? { reason: JSON.parse(row.reason) as ProgressRow['reason'] } : {}),
      ...(row.runningVersion ? { runningVersion: row.runningVersion } : {}),
    }));
}

/**
 * Whether `report` is newer than `stored`: a later `at`, or the same `at` and a state further along the job's
 * life (two transitions within one millisecond). Reports arriving out of order therefore never go backwards.
 */
export function isNewerReport(report: EdgeProgressReport, stored: Pick<ProgressRow, 'at' | 'state'> | undefined) {
  if (!stored) return true;
  const delta = Date.parse(report.at) - Date.parse(stored.at);
  if (delta !== 0) return delta > 0;
  return UpdateJobStates.indexOf(report.state) > UpdateJobStates.indexOf(stored.state);
}

/** Stores the report for its edge if it is newer than the one held; returns whether it did. */
export function recordProgress(db: Db, campaignId: string, report: EdgeProgressReport): boolean {
  const stored = db
    .prepare<Pick<ProgressRow, 'at' | 'state'>>(
      'SELECT at, state FROM update_campaign_progress WHERE campaign_id = ? AND edge_id = ?',
    )
    .get(campaignId, report.edgeId);
  if (!isNewerReport(report, stored)) return false;
  db.prepare(
    `INSERT INTO update_campaign_progress (campaign_id, edge_id, state, progress, reason, running_version, at)
     VALUES (@campaignId, @edgeId, @state, @progress, @reason, @runningVersion, @at)
     ON CONFLICT (campaign_id, edge_id) DO UPDATE SET state = excluded.state, progress = excluded.progress,
       reason = excluded.reason, running_version = excluded.running_version, at = excluded.at`,
  ).run({
    campaignId,
    edgeId: report.edgeId,
    state: report.state,
    progress: report.progress ? JSON.stringify(report.progress) : null,
    reason: report.reason ? JSON.stringify(report.reason) : null,
    runningVersion: report.runningVersion ?? null,
    at: report.at,
  });
  return true;
}
