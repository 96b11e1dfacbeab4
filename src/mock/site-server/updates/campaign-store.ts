/**
 * The update campaigns the site server knows and, per campaign and edge, what it offered and what the edge last
 * reported. Every change is one statement or one transaction; `dirty` rows are the progress the cloud has not
 * acknowledged yet, cleared only for the report that was sent (a newer one arriving meanwhile stays dirty).
 */
import {
  FINAL_UPDATE_STATES,
  type CampaignProgressReport,
  type SiteCampaign,
  type UpdateFailure,
  type UpdateJobState,
} from '../../../protocol/index.js';
import type { Db } from '../../../storage/index.js';

export interface StoredCampaign {
  id: string;
  releaseId: string;
  manifest: string;
  releaseKeys?: string;
  /** The targeted edges; null means every edge of the site, including ones that pair later. */
  edges: string[] | null;
  allowDowngrade: boolean;
  state: 'active' | 'cancelled';
  /** What the verified manifest says; absent when the manifest did not verify (`artifactError` says why). */
  release?: { sha256: string; size: number; version: string };
  /** Why the bundle was refused; a campaign with one is never offered. */
  artifactError?: UpdateFailure;
  firstSeenAt: string;
  cancelledAt?: string;
}

export interface EdgeUpdateState {
  campaignId: string;
  edgeId: string;
  offeredAt?: string;
  state?: UpdateJobState;
  progress?: { bytes: number; total: number };
  reason?: UpdateFailure;
  runningVersion?: string;
  at?: string;
  /** True until the cloud has acknowledged this state. */
  dirty: boolean;
}

type ProgressEntry = CampaignProgressReport['edges'][number];

interface CampaignRow {
  id: string;
  release_id: string;
  manifest_jws: string;
  release_keys: string | null;
  edges_json: string | null;
  allow_downgrade: number;
  state: 'active' | 'cancelled';
  sha256: string | null;
  size: number | null;
  version: string | null;
  artifact_error_json: string | null;
  first_seen_at: string;
  cancelled_at: string | null;
}

interface EdgeStateRow {
  campaign_id: string;
  edge_id: string;
  offered_at: string | null;
  state: UpdateJobState | null;
  progress_json: string | null;
  reason_json: string | null;
  running_version: string | null;
  at: string | null;
  dirty: number;
}

const toCampaign = (r: CampaignRow): StoredCampaign => ({
  id: r.id,
  releaseId: r.release_id,
  manifest: r.manifest_jws,
  ...(r.release_keys ? { releaseKeys: r.release_keys } : {}),
  edges: r.edges_json ? (JSON.parse(r.edges_json) as string[]) : null,
  allowDowngrade: r.allow_downgrade === 1,
  state: r.state,
  ...(r.sha256 !== null && r.size !== null && r.version !== null
    ? { release: { sha256: r.sha256, size: r.size, version: r.version } }
    : {}),
  ...(r.artifact_error_json ? { artifactError: JSON.parse(r.artifact_error_json) as UpdateFailure } : {}),
  firstSeenAt: r.first_seen_at,
  ...(r.cancelled_at ? { cancelledAt: r.cancelled_at } : {}),
});

const toEdgeState = (r: EdgeStateRow): EdgeUpdateState => ({
  campaignId: r.campaign_id,
  edgeId: r.edge_id,
  ...(r.offered_at ? { offeredAt: r.offered_at } : {}),
  ...(r.state ? { state: r.state } : {}),
  ...(r.progress_json ? { progress: JSON.parse(r.progress_json) } : {}),
  ...(r.reason_json ? { reason: JSON.parse(r.reason_json) as UpdateFailure } : {}),
  ...(r.running_version ? { runningVersion: r.running_version } : {}),
  ...(r.at ? { at: r.at } : {}),
  dirty: r.dirty === 1,
});

export const isFinal = (state: UpdateJobState | undefined): boolean =>
  state !== undefined && FINAL_UPDATE_STATES.includes(state);

export class CampaignStore {
  constructor(private readonly db: Db) {}

  /** In the order they were learned (the cloud's order within one listing). */
  campaigns(): StoredCampaign[] {
    return this.db.prepare<CampaignRow>('SELECT * FROM update_campaigns ORDER BY rowid').all().map(toCampaign);
  }

  campaign(id: string): StoredCampaign | undefined {
    const row = this.db.prepare<CampaignRow>('SELECT * FROM update_campaigns WHERE id = ?').get(id);
    return row ? toCampaign(row) : undefined;
  }

  /** A campaign seen for the first time, with what its verified manifest says (undefined: it did not verify). */
  insert(c: SiteCampaign, release: StoredCampaign['release'], nowIso: string): void {
    this.db
      .prepare(`INSERT INTO update_campaigns (id, release_id, manifest_jws, release_keys, edges_json, allow_downgrade,
        state, sha256, size, version, first_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(
        c.id,
        c.releaseId,
        c.manifest,
        c.releaseKeys ?? null,
        c.edges ? JSON.stringify(c.edges) : null,
        c.allowDowngrade ? 1 : 0,
        c.state,
        release?.sha256 ?? null,
        release?.size ?? null,
        release?.version ?? null,
        nowIso,
      );
  }

  /** A campaign cancelled in the cloud: never offered again, its artifact refused to edges (410). */
  cancel(id: string, nowIso: string): void {
    this.db
      .prepare("UPDATE update_campaigns SET state = 'cancelled', cancelled_at = ? WHERE id = ? AND state = 'active'")
      .run(nowIso, id);
  }

  /**
   * The bundle was refused: the campaign is never offered, and every edge it targets is `failed` with the reason,
   * to be reported to the cloud. Edges that were already given a state keep it.
   */
  refuseArtifact(id: string, reason: UpdateFailure, edgeIds: readonly string[], nowIso: string): void {
    this.db.transaction(() => {
      this.db
        .prepare('UPDATE update_campaigns SET artifact_error_json = ? WHERE id = ?')
        .run(JSON.stringify(reason), id);
      const insert =
        this.db.prepare(`INSERT INTO update_edge_states (campaign_id, edge_id, state, reason_json, at, dirty)
        VALUES (?, ?, 'failed', ?, ?, 1) ON CONFLICT DO NOTHING`);
      for (const edgeId of edgeIds) insert.run(id, edgeId, JSON.stringify(reason), nowIso);
    });
  }

  edgeStates(campaignId?: string): EdgeUpdateState[] {
    const rows = campaignId
      ? this.db
          .prepare<EdgeStateRow>('SELECT * FROM update_edge_states WHERE campaign_id = ? ORDER BY edge_id')
          .all(campaignId)
      : this.db.prepare<EdgeStateRow>('SELECT * FROM update_edge_states ORDER BY campaign_id, edge_id').all();
    return rows.map(toEdgeState);
  }

  edgeState(campaignId: string, edgeId: string): EdgeUpdateState | undefined {
    const row = this.db
      .prepare<EdgeStateRow>('SELECT * FROM update_edge_states WHERE campaign_id = ? AND edge_id = ?')
      .get(campaignId, edgeId);
    return row ? toEdgeState(row) : undefined;
  }

  /** The edge's most recent reported state, whatever the campaign. */
  latestForEdge(edgeId: string): EdgeUpdateState | undefined {
    const row = this.db
      .prepare<EdgeStateRow>(
        'SELECT * FROM update_edge_states WHERE edge_id = ? AND at IS NOT NULL ORDER BY at DESC LIMIT 1',
      )
      .get(edgeId);
    return row ? toEdgeState(row) : undefined;
  }

  markOffered(campaignId: string, edgeId: string, nowIso: string): void {
    this.db
      .prepare(`INSERT INTO update_edge_states (campaign_id, edge_id, offered_at) VALUES (?, ?, ?)
        ON CONFLICT DO UPDATE SET offered_at = coalesce(offered_at, excluded.offered_at)`)
      .run(campaignId, edgeId, nowIso);
  }

  /** The edge's report, kept as the latest for its campaign and marked for the cloud. */
  recordReport(
    campaignId: string,
    edgeId: string,
    report: {
      state: UpdateJobState;
      progress?: { bytes: number; total: number } | undefined;
      reason?: UpdateFailure | undefined;
      runningVersion: string;
      at: string;
    },
  ): void {
    this.db
      .prepare(`INSERT INTO update_edge_states (campaign_id, edge_id, state, progress_json, reason_json, running_version,
        at, dirty) VALUES (?, ?, ?, ?, ?, ?, ?, 1)
        ON CONFLICT DO UPDATE SET state = excluded.state, progress_json = excluded.progress_json,
        reason_json = excluded.reason_json, running_version = excluded.running_version, at = excluded.at, dirty = 1`)
      .run(
        campaignId,
        edgeId,
        report.state,
        report.progress ? JSON.stringify(report.progress) : null,
        report.reason ? JSON.stringify(report.reason) : null,
        report.runningVersion,
        report.at,
      );
  }

  /** What the cloud has not been told, grouped by campaign. */
  unreported(): Map<string, ProgressEntry[]> {
    const byCampaign = new Map<string, ProgressEntry[]>();
    for (const s of this.db
      .prepare<EdgeStateRow>('SELECT * FROM update_edge_states WHERE dirty = 1 ORDER BY campaign_id, edge_id')
      .all()
      .map(toEdgeState)) {
      if (!s.state || !s.at) continue;
      const entry: ProgressEntry = {
        edgeId: s.edgeId,
        state: s.state,
        at: s.at,
        ...(s.progress ? { progress: s.progress } : {}),
        ...(s.reason ? { reason: s.reason } : {}),
        ...(s.runningVersion ? { runningVersion: s.runningVersion } : {}),
      };
      byCampaign.set(s.campaignId, [...(byCampaign.get(s.campaignId) ?? []), entry]);
    }
    return byCampaign;
  }

  /** Clears `dirty` for the states the cloud acknowledged, unless a newer one arrived since. */
  markReported(campaignId: string, entries: readonly ProgressEntry[]): void {
    this.db.transaction(() => {
      const clear = this.db.prepare(
        'UPDATE update_edge_states SET dirty = 0 WHERE campaign_id = ? AND edge_id = ? AND at = ?',
      );
      for (const e of entries) clear.run(campaignId, e.edgeId, e.at);
    });
  }
}
