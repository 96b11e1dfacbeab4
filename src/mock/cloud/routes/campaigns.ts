/**
 * Update campaigns, as a site admin sees them (issue 13): admin+ approves one for a site (all its edges, or a list)
 * and cancels it; viewer+ lists them with per-edge progress. A new campaign for a release of the same kind and name
 * supersedes the site's active one, which becomes `cancelled`: a site runs at most one rollout of a product.
 */
import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { CLOUD_ROUTES, CreateCampaignRequest, type ErrorDetail } from '../../../protocol/index.js';
import type { CloudDeps, CloudEnv } from '../context.js';
import { HttpError } from '../../../common/http/http-error.js';
import { requireAuth, requireRole } from '../middleware/auth.js';
import { readJson, readParams } from '../middleware/body.js';
import {
  activeCampaignsFor,
  findCampaign,
  insertCampaign,
  listSiteCampaigns,
  markCampaignCancelled,
  type CampaignRow,
} from '../store/campaigns.js';
import { listSiteEdges } from '../store/edges.js';
import { findRelease } from '../store/releases.js';
import { findLiveSite } from '../store/sites.js';
import { campaignView } from '../views.js';
import type { Db } from '../../../storage/index.js';
import { CampaignParams, SiteParams } from './params.js';

/** A listed edge must be an active edge of the site, listed once: a typo would otherwise wait forever as `pending`. */
function checkTargetedEdges(db: Db, siteId: string, edges: readonly string[]): void {
  const active = new Set(
    listSiteEdges(db, siteId)
      .filter((edge) => !edge.revokedAt)
      .map((edge) => edge.edgeId),
  );
  const details: ErrorDetail[] = [];
  edges.forEach((edgeId, i) => {
    if (!active.has(edgeId))
      details.push({ field: `edges.${i}`, message: `${edgeId} is not an active edge of this site` });
    else if (edges.indexOf(edgeId) !== i) details.push({ field: `edges.${i}`, message: `${edgeId} is listed twice` });
  });
  if (details.length)
    throw new HttpError(400, 'VALIDATION_ERROR', 'the campaign names edges it cannot update', details);
}

function requireLiveSite(db: Db, orgId: string, siteId: string): void {
  if (!findLiveSite(db, orgId, siteId)) throw HttpError.notFound('site');
}

function requireCampaign(db: Db, siteId: string, campaignId: string): CampaignRow {
  const campaign = findCampaign(db, siteId, campaignId);
  if (!campaign) throw HttpError.notFound('campaign');
  return campaign;
}

export function campaignRoutes(deps: CloudDeps): Hono<CloudEnv> {
  const { db } = deps;
  return new Hono<CloudEnv>()
    .post(CLOUD_ROUTES.campaigns, requireAuth(deps), requireRole(deps, 'admin'), async (c) => {
      const { orgId, siteId } = readParams(c, SiteParams);
      const body = await readJson(c, CreateCampaignRequest);
      const now = deps.clock.iso();
      const { campaign, superseded } = db.transaction(() => {
        requireLiveSite(db, orgId, siteId);
        const release = findRelease(db, body.releaseId);
        if (!release) throw HttpError.notFound('release');
        if (body.edges) checkTargetedEdges(db, siteId, body.edges);
        const previous = activeCampaignsFor(db, siteId, release);
        for (const old of previous) markCampaignCancelled(db, old.id, now);
        const row: CampaignRow = {
          id: randomUUID(),
          orgId,
          siteId,
          releaseId: release.id,
          edges: body.edges ?? null,
          allowDowngrade: body.allowDowngrade ?? false,
          createdBy: c.get('user').id,
          createdAt: now,
          cancelledAt: null,
        };
        insertCampaign(db, row);
        return { campaign: row, superseded: previous.map((old) => old.id) };
      });
      deps.logger.info('campaign_created', {
        orgId,
        siteId,
        campaignId: campaign.id,
        releaseId: campaign.releaseId,
        superseded,
      });
      return c.json(campaignView(db, campaign), 201);
    })
    .get(CLOUD_ROUTES.campaigns, requireAuth(deps), requireRole(deps, 'viewer'), (c) => {
      const { orgId, siteId } = readParams(c, SiteParams);
      requireLiveSite(db, orgId, siteId);
      return c.json({ campaigns: listSiteCampaigns(db, siteId).map((row) => campaignView(db, row)) });
    })
    .get(CLOUD_ROUTES.campaign, requireAuth(deps), requireRole(deps, 'viewer'), (c) => {
      const { orgId, siteId, campaignId } = readParams(c, CampaignParams);
      requireLiveSite(db, orgId, siteId);
      return c.json(campaignView(db, requireCampaign(db, siteId, campaignId)));
    })
    .post(CLOUD_ROUTES.campaignCancel, requireAuth(deps), requireRole(deps, 'admin'), (c) => {
      const { orgId, siteId, campaignId } = readParams(c, CampaignParams);
      const now = deps.clock.iso();
      // Cancelling twice is harmless: the answer is the campaign, cancelled at the first time.
      const campaign = db.transaction(() => {
        requireLiveSite(db, orgId, siteId);
        const found = requireCampaign(db, siteId, campaignId);
        markCampaignCancelled(db, found.id, now);
        return { ...found, cancelledAt: found.cancelledAt ?? now };
      });
      deps.logger.info('campaign_cancelled', { orgId, siteId, campaignId });
      return c.json(campaignView(db, campaign));
    });
}
