/**
 * Update delivery by the site server (issue 13): after every trust refresh it reads the site's campaigns from the
 * cloud, fetches and verifies each artifact once, offers it to each targeted edge on `P/update` (retained, QoS 1),
 * withdraws cancelled campaigns, records what edges report on `P/update/state` and passes it on to the cloud.
 *
 * What each edge's retained `P/update` should hold is derived from the database every time (`reconcile`), never
 * patched, so a restart, a lost publish or a report arriving out of order all converge on the same message:
 * the first active campaign (in the cloud's order) the edge has not finished whose artifact is ready, else the
 * cancellation of a campaign it was offered and has not finished, else nothing (an empty retained message clears
 * the topic). An edge works on one campaign at a time: a new offer replaces the one before (the cloud cancels a
 * campaign when a newer one for the same release name supersedes it; the edge reports the old job `SUPERSEDED`),
 * and the next is offered when it reports a final state for the current one.
 */
import type { Logger } from '../../../common/log/log.js';
import {
  ReleaseVerificationError,
  SITE_EDGE_ROUTES,
  siteEdgeUrl,
  UpdateCancel,
  UpdateOffer,
  type SiteCampaign,
  type UpdateMessage,
  type UpdateStateReport,
} from '../../../protocol/index.js';
import { CloudError, type CloudClient } from '../upstream/cloud-client.js';
import type { TrustStore } from '../upstream/trust-store.js';
import type { ArtifactCache } from './artifact-cache.js';
import { type CampaignStore, isFinal, type StoredCampaign } from './campaign-store.js';
import type { ReleaseTrust } from './release-trust.js';

/** How the delivery reaches edges: the site logic's privileged client (null clears the retained message). */
export type UpdatePublisher = (edgeId: string, message: UpdateMessage | null) => Promise<void>;

export interface UpdateDeliveryDeps {
  campaigns: CampaignStore;
  artifacts: ArtifactCache;
  trust: ReleaseTrust;
  /** The site's edges as the cloud lists them (targets of campaigns for every edge). */
  edges: TrustStore;
  cloud: CloudClient;
  siteToken: string;
  /** The edge-reachable HTTP listener the artifact route is on. */
  httpUrl: string;
  publish: UpdatePublisher;
  logger: Logger;
}

/** At most this many edges per progress report (the contract's bound). */
const PROGRESS_BATCH = 1000;
/** Reports that arrive together go to the cloud together. */
const PROGRESS_FLUSH_DELAY_MS = 200;

export class UpdateDelivery {
  /** What this process last put on each edge's retained `P/update` (a key; unknown after a restart). */
  private readonly published = new Map<string, string>();
  private syncing: Promise<void> | undefined;
  private syncAgain = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private closed = false;

  private readonly campaigns: CampaignStore;
  private readonly artifacts: ArtifactCache;

  constructor(private readonly deps: UpdateDeliveryDeps) {
    this.campaigns = deps.campaigns;
    this.artifacts = deps.artifacts;
  }

  /**
   * One round with the cloud; concurrent calls share it, and a call during a round asks for one more after it.
   * Never rejects: every failure is logged and retried at the next round.
   */
  sync(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.syncing) {
      this.syncAgain = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      do {
        this.syncAgain = false;
        await this.syncOnce().catch((error: unknown) => this.deps.logger.error('update_sync_failed', { error }));
      } while (this.syncAgain && !this.closed);
    })().finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  private async syncOnce(): Promise<void> {
    let listed: SiteCampaign[] | undefined;
    try {
      listed = await this.deps.cloud.siteCampaigns(this.deps.siteToken);
    } catch (error) {
      this.deps.logger.warn('update_campaigns_unavailable', {
        error: (error as Error).message,
        note: 'serving the campaigns already known',
      });
    }
    if (listed) for (const campaign of listed) await this.learn(campaign);
    // A download may take minutes: it runs on its own and offers its campaigns when it is done, while this round
    // goes on to offer what is ready and report progress.
    for (const campaign of this.campaigns.campaigns())
      this.prepareArtifact(campaign).catch((error: unknown) =>
        this.deps.logger.error('update_artifact_failed', { campaignId: campaign.id, error }),
      );
    await this.reconcileAll();
    await this.flushProgress();
  }

  /** Records a campaign the first time it is listed, and its cancellation. */
  private async learn(listed: SiteCampaign): Promise<void> {
    const now = new Date().toISOString();
    const known = this.campaigns.campaign(listed.id);
    if (!known) {
      let release: StoredCampaign['release'];
      let refusal: { code: string; message: string } | undefined;
      try {
        const manifest = await this.deps.trust.verify(listed.manifest, listed.releaseKeys);
        release = { sha256: manifest.sha256, size: manifest.size, version: manifest.version };
      } catch (error) {
        if (!(error instanceof ReleaseVerificationError)) throw error;
        refusal = { code: error.code, message: `the campaign's manifest: ${error.message}` };
      }
      this.campaigns.insert(listed, release, now);
      this.deps.logger.info('update_campaign_learned', {
        campaignId: listed.id,
        version: release?.version ?? null,
        edges: listed.edges?.length ?? 'all',
      });
      if (refusal) this.refuse(listed.id, refusal);
    }
    if (listed.state === 'cancelled' && known?.state !== 'cancelled') {
      this.campaigns.cancel(listed.id, now);
      this.deps.logger.info('update_campaign_cancelled', { campaignId: listed.id });
    }
  }

  private refuse(campaignId: string, reason: { code: string; message: string }): void {
    const campaign = this.campaigns.campaign(campaignId);
    if (!campaign) return;
    this.campaigns.refuseArtifact(campaignId, reason, this.targets(campaign), new Date().toISOString());
    this.deps.logger.error('update_campaign_refused', { campaignId, reason });
    this.scheduleFlush();
  }

  private async prepareArtifact(campaign: StoredCampaign): Promise<void> {
    if (campaign.artifactError) {
      // Edges that paired since still learn (and the cloud hears) why nothing is coming.
      this.campaigns.refuseArtifact(
        campaign.id,
        campaign.artifactError,
        this.targets(campaign),
        new Date().toISOString(),
      );
      return;
    }
    if (campaign.state !== 'active' || !campaign.release || this.artifacts.isReady(campaign.release.sha256)) return;
    const outcome = await this.artifacts.ensure({
      releaseId: campaign.releaseId,
      ...(campaign.releaseKeys ? { releaseKeys: campaign.releaseKeys } : {}),
      sha256: campaign.release.sha256,
      size: campaign.release.size,
    });
    if (outcome.ok) {
      if (!this.closed) await this.reconcileAll();
      return;
    }
    if ('refused' in outcome) {
      // Every campaign of that artifact is refused, whichever one fetched it.
      for (const other of this.campaigns.campaigns())
        if (other.release?.sha256 === campaign.release.sha256 && !other.artifactError)
          this.refuse(other.id, outcome.refused);
    } else
      this.deps.logger.warn('update_artifact_fetch_interrupted', {
        campaignId: campaign.id,
        error: outcome.retry,
        note: 'resumed at the next sync',
      });
  }

  /** The edges a campaign is for: its list, or every active edge of the site (edges that pair later included). */
  targets(campaign: StoredCampaign): string[] {
    return campaign.edges ?? this.deps.edges.edges().flatMap((e) => (e.status === 'active' ? [e.edgeId] : []));
  }

  /** Whether `edgeId` may download this campaign's artifact (the artifact route's 403). */
  isTargeted(campaign: StoredCampaign, edgeId: string): boolean {
    return this.targets(campaign).includes(edgeId);
  }

  private async reconcileAll(): Promise<void> {
    const edgeIds = new Set<string>();
    for (const campaign of this.campaigns.campaigns()) for (const edgeId of this.targets(campaign)) edgeIds.add(edgeId);
    for (const state of this.campaigns.edgeStates()) if (state.offeredAt) edgeIds.add(state.edgeId);
    for (const edgeId of edgeIds) await this.reconcile(edgeId);
  }

  /** Puts on the edge's retained `P/update` what the database says it should hold. */
  private async reconcile(edgeId: string): Promise<void> {
    const campaigns = this.campaigns.campaigns();
    const stateOf = (c: StoredCampaign) => this.campaigns.edgeState(c.id, edgeId);
    const owedCancel = campaigns.find((c) => {
      const s = stateOf(c);
      return c.state === 'cancelled' && s?.offeredAt !== undefined && !isFinal(s.state);
    });
    const next = campaigns.find(
      (c) =>
        c.state === 'active' &&
        c.release &&
        !c.artifactError &&
        this.artifacts.isReady(c.release.sha256) &&
        this.targets(c).includes(edgeId) &&
        !isFinal(stateOf(c)?.state),
    );
    const wasOffered = campaigns.some((c) => stateOf(c)?.offeredAt !== undefined);
    let message: UpdateMessage | null;
    let key: string;
    if (next) {
      this.campaigns.markOffered(next.id, edgeId, new Date().toISOString());
      message = UpdateOffer.parse({
        campaignId: next.id,
        manifest: next.manifest,
        url: siteEdgeUrl(this.deps.httpUrl, SITE_EDGE_ROUTES.updateArtifact, { campaignId: next.id }),
        allowDowngrade: next.allowDowngrade,
        ...(next.releaseKeys ? { releaseKeys: next.releaseKeys } : {}),
        // The first offer's time, so an offer published again (after a restart) is the same message.
        ts: stateOf(next)?.offeredAt,
      });
      key = `offer:${next.id}`;
    } else if (owedCancel) {
      message = UpdateCancel.parse({
        campaignId: owedCancel.id,
        cancelled: true,
        ts: owedCancel.cancelledAt ?? new Date().toISOString(),
      });
      key = `cancel:${owedCancel.id}`;
    } else if (wasOffered) {
      message = null;
      key = 'clear';
    } else return;
    if (this.published.get(edgeId) === key) return;
    try {
      await this.deps.publish(edgeId, message);
      this.published.set(edgeId, key);
      this.deps.logger.info('update_topic_published', { edgeId, message: key });
    } catch (error) {
      this.deps.logger.warn('update_publish_failed', { edgeId, message: key, error: (error as Error).message });
    }
  }

  /**
   * An edge's `P/update/state`: kept as its latest for that campaign, passed on to the cloud, and, once final,
   * the edge's `P/update` moves on (cleared, or the next campaign). Reports for a campaign this server does not
   * know or that does not target the edge are logged and dropped; offline installs (`campaignId` null) only
   * show in the edge's record.
   */
  async report(edgeId: string, report: UpdateStateReport): Promise<void> {
    if (report.campaignId === null) return;
    const campaign = this.campaigns.campaign(report.campaignId);
    if (!campaign || !(this.isTargeted(campaign, edgeId) || this.campaigns.edgeState(campaign.id, edgeId))) {
      this.deps.logger.warn('update_state_ignored', {
        edgeId,
        campaignId: report.campaignId,
        reason: campaign ? 'the campaign does not target this edge' : 'no such campaign',
      });
      return;
    }
    this.campaigns.recordReport(campaign.id, edgeId, report);
    this.scheduleFlush();
    if (isFinal(report.state)) await this.reconcile(edgeId);
  }

  private scheduleFlush(): void {
    if (this.flushTimer || this.closed) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.flushProgress().catch((error: unknown) => this.deps.logger.error('update_progress_flush_failed', { error }));
    }, PROGRESS_FLUSH_DELAY_MS);
  }

  /** Sends what the cloud has not acknowledged; a state stays unreported until it has (across restarts too). */
  private flushProgress(): Promise<void> {
    this.flushing ??= this.sendProgress().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async sendProgress(): Promise<void> {
    for (const [campaignId, entries] of this.campaigns.unreported()) {
      for (let i = 0; i < entries.length; i += PROGRESS_BATCH) {
        const batch = entries.slice(i, i + PROGRESS_BATCH);
        try {
          await this.deps.cloud.reportCampaignProgress(this.deps.siteToken, campaignId, { edges: batch });
        } catch (error) {
          const status = error instanceof CloudError ? error.status : undefined;
          // Refused for what it says (the campaign is gone, the body is bad): sending it again changes nothing.
          if (status !== undefined && status >= 400 && status < 500 && status !== 401 && status !== 429) {
            this.deps.logger.error('update_progress_refused', { campaignId, error: (error as Error).message });
            this.campaigns.markReported(campaignId, batch);
            continue;
          }
          this.deps.logger.warn('update_progress_unsent', {
            campaignId,
            error: (error as Error).message,
            note: 'kept, and sent again at the next sync',
          });
          return;
        }
        this.campaigns.markReported(campaignId, batch);
      }
    }
  }

  /** Stops: no new round, downloads aborted (resumed at the next start), the round under way awaited. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.flushTimer);
    await this.artifacts.close();
    await this.syncing;
    await this.flushing;
  }
}
