/**
 * The site server's side of update campaigns (issue 13), with its site token: the campaigns of its site (active
 * ones to deliver, cancelled ones to withdraw), with each release's signed manifest and the key-rotation document
 * if the cloud has one; and progress reports, the
 * latest state per edge. A report older than the state held for an edge is ignored, so reports that arrive out of
 * order (a retried batch, two site server processes during a replacement) never move an edge backwards.
 */
import { Hono } from 'hono';
import { CampaignProgressReport, CLOUD_ROUTES, type SiteCampaign } from '../../../protocol/index.js';
import type { CloudDeps, CloudEnv } from '../context.js';
import { HttpError } from '../../../common/http/http-error.js';
import { readJson, readParams } from '../middleware/body.js';
import { requireSiteToken } from '../middleware/site-token.js';
import { findCampaign, listSiteCampaigns, recordProgress, type CampaignRow } from '../store/campaigns.js';
import { listSiteEdges } from '../store/edges.js';
import { findRelease } from '../store/releases.js';
import type { Db } from '../../../storage/index.js';
import { CampaignParams, SiteParams } from './params.js';

function siteCampaignView(db: Db, campaign: CampaignRow, rotation: string | undefined): SiteCampaign {
  return {
    id: campaign.id,
    releaseId: campaign.releaseId,
    manifest: findRelease(db, campaign.releaseId)!.manifestJws,
    ...(rotation ? { releaseKeys: rotation } : {}),
    edges: campaign.edges,
    allowDowngrade: campaign.allowDowngrade,
    state: campaign.cancelledAt ? 'cancelled' : 'active',
  };
}

/** The edges a campaign may hear from: its list, or every edge id ever registered at the site. */
function targetedEdges(db: Db, campaign: CampaignRow): Set<string> {
  return new Set(campaign.edges ?? listSiteEdges(db, campaign.siteId).map((edge) => edge.edgeId));
}

export function siteCampaignRoutes(deps: CloudDeps): Hono<CloudEnv> {
  const { db } = deps;
  return new Hono<CloudEnv>()
    .get(CLOUD_ROUTES.siteCampaigns, async (c) => {
      const { orgId, siteId } = readParams(c, SiteParams);
      await requireSiteToken(deps, c, orgId, siteId);
      return c.json({
        campaigns: listSiteCampaigns(db, siteId).map((row) => siteCampaignView(db, row, deps.releases.trust.rotation)),
      });
    })
    .post(CLOUD_ROUTES.siteCampaignProgress, async (c) => {
      const { orgId, siteId, campaignId } = readParams(c, CampaignParams);
      await requireSiteToken(deps, c, orgId, siteId);
      const report = await readJson(c, CampaignProgressReport);
      const result = db.transaction(() => {
        const campaign = findCampaign(db, siteId, campaignId);
        if (!campaign) throw HttpError.notFound('campaign');
        const targeted = targetedEdges(db, campaign);
        let recorded = 0;
        for (const edge of report.edges)
          if (targeted.has(edge.edgeId) && recordProgress(db, campaignId, edge)) recorded++;
        return { recorded, ignored: report.edges.length - recorded };
      });
      if (result.ignored) deps.logger.info('campaign_progress_ignored', { siteId, campaignId, ...result });
      return c.json(result);
    });
}
