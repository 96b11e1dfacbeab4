/** Rows → the contract's response bodies. One place, so every route renders a site or an org the same way. */
import type {
  CampaignEdgeProgress,
  CampaignView,
  Organisation,
  Role,
  Site,
  SiteDetail,
  SiteListItem,
} from '../../protocol/index.js';
import type { z } from 'zod';
import type { Db } from '../../storage/index.js';
import { countActiveEdges, listSiteEdges, toEdgeSummary } from './store/edges.js';
import type { OrganisationRow } from './store/organisations.js';
import { listProgress, type CampaignRow } from './store/campaigns.js';
import { findRelease, toReleaseView } from './store/releases.js';
import { findServer } from './store/servers.js';
import type { SiteRow } from './store/sites.js';

/** The reserved operator address of a site (the seed: `{slug}.consystence.site`). */
export const siteHost = (slug: string) => `${slug}.consystence.site`;

export function organisationView(org: OrganisationRow, role: Role | undefined): Organisation {
  return {
    id: org.id,
    name: org.name,
    slug: org.slug,
    timezone: org.timezone,
    ...(role ? { role } : {}),
    createdAt: org.createdAt,
  };
}

export function siteView(site: SiteRow): Site {
  return {
    id: site.id,
    name: site.name,
    slug: site.slug,
    url: siteHost(site.slug),
    timezone: site.timezone,
    ...(site.location ? { location: site.location } : {}),
    orgId: site.orgId,
    status: site.status,
    createdAt: site.createdAt,
  };
}

// The mock models no processes; the count exists because the seed's list shows it.
const PROCESS_COUNT = 0;

export function siteListItemView(db: Db, site: SiteRow): z.infer<typeof SiteListItem> {
  return {
    id: site.id,
    name: site.name,
    slug: site.slug,
    url: siteHost(site.slug),
    status: site.status,
    deviceCount: countActiveEdges(db, site.id),
    processCount: PROCESS_COUNT,
  };
}

export function siteDetailView(db: Db, site: SiteRow): z.infer<typeof SiteDetail> {
  const server = findServer(db, site.id);
  return {
    ...siteView(site),
    server:
      server && !server.revokedAt
        ? {
            hardwareId: server.hardwareId,
            version: server.version,
            hostname: server.hostname,
            registeredAt: server.registeredAt,
          }
        : null,
    edges: listSiteEdges(db, site.id).map(toEdgeSummary),
    deviceCount: countActiveEdges(db, site.id),
    processCount: PROCESS_COUNT,
  };
}

/**
 * A campaign with its release and one progress entry per edge: every targeted edge (for a whole-site campaign,
 * every active edge of the site), `pending` until its first report, then any other edge that reported.
 */
export function campaignView(db: Db, campaign: CampaignRow): CampaignView {
  const release = findRelease(db, campaign.releaseId)!;
  const targeted =
    campaign.edges ??
    listSiteEdges(db, campaign.siteId)
      .filter((edge) => !edge.revokedAt)
      .map((edge) => edge.edgeId);
  const reported = new Map(listProgress(db, campaign.id).map((row) => [row.edgeId, row]));
  const progress = [...new Set([...targeted, ...reported.keys()])].map((edgeId): CampaignEdgeProgress => {
    const row = reported.get(edgeId);
    if (!row) return { edgeId, state: 'pending' };
    return {
      edgeId,
      state: row.state,
      ...(row.progress ? { progress: row.progress } : {}),
      ...(row.reason ? { reason: row.reason } : {}),
      ...(row.runningVersion ? { runningVersion: row.runningVersion } : {}),
      updatedAt: row.at,
    };
  });
  return {
    id: campaign.id,
    siteId: campaign.siteId,
    release: toReleaseView(release),
    edges: campaign.edges,
    allowDowngrade: campaign.allowDowngrade,
    state: campaign.cancelledAt ? 'cancelled' : 'active',
    createdAt: campaign.createdAt,
    ...(campaign.cancelledAt ? { cancelledAt: campaign.cancelledAt } : {}),
    progress,
  };
}
