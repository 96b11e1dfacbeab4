/**
 * The seed's Site API: create (admin+), list and get (viewer+), update metadata (admin+), delete (owner).
 * Deleting a site revokes its edges, its server registration and its unused pairing codes in the same
 * transaction, and frees its slug.
 */
import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { CreateSiteRequest, UpdateSiteRequest, CLOUD_ROUTES } from '../../../protocol/index.js';
import type { CloudDeps, CloudEnv } from '../context.js';
import { HttpError } from '../../../common/http/http-error.js';
import { requireAuth, requireRole } from '../middleware/auth.js';
import { readJson, readParams } from '../middleware/body.js';
import { revokeSiteEdges } from '../store/edges.js';
import { expireSitePairingCodes } from '../store/pairing-codes.js';
import { revokeServer } from '../store/servers.js';
import {
  findLiveSite,
  insertSite,
  listLiveSites,
  markSiteDeleted,
  siteSlugTaken,
  updateSiteMetadata,
  type SiteRow,
} from '../store/sites.js';
import { siteDetailView, siteListItemView, siteView } from '../views.js';
import { SiteParams } from './params.js';

const SITES = CLOUD_ROUTES.sites;
const SITE = CLOUD_ROUTES.site;

export function siteRoutes(deps: CloudDeps): Hono<CloudEnv> {
  const { db } = deps;
  const liveSite = (orgId: string, siteId: string): SiteRow => {
    const site = findLiveSite(db, orgId, siteId);
    if (!site) throw HttpError.notFound('site');
    return site;
  };

  return new Hono<CloudEnv>()
    .post(SITES, requireAuth(deps), requireRole(deps, 'admin'), async (c) => {
      const orgId = c.req.param('orgId');
      const body = await readJson(c, CreateSiteRequest);
      const site: SiteRow = {
        id: randomUUID(),
        orgId,
        name: body.name,
        slug: body.slug,
        timezone: body.timezone,
        location: body.location,
        status: 'provisioning',
        createdAt: deps.clock.iso(),
      };
      db.transaction(() => {
        if (siteSlugTaken(db, orgId, site.slug))
          throw new HttpError(409, 'SLUG_TAKEN', `the slug ${site.slug} is taken in this organisation`, [
            { field: 'slug', message: 'taken' },
          ]);
        insertSite(db, site);
      });
      deps.logger.info('site_created', { orgId, siteId: site.id, slug: site.slug });
      return c.json(siteView(site), 201);
    })
    .get(SITES, requireAuth(deps), requireRole(deps, 'viewer'), (c) => {
      return c.json({ data: listLiveSites(db, c.req.param('orgId')).map((site) => siteListItemView(db, site)) });
    })
    .get(SITE, requireAuth(deps), requireRole(deps, 'viewer'), (c) => {
      const { orgId, siteId } = readParams(c, SiteParams);
      return c.json(siteDetailView(db, liveSite(orgId, siteId)));
    })
    .put(SITE, requireAuth(deps), requireRole(deps, 'admin'), async (c) => {
      const { orgId, siteId } = readParams(c, SiteParams);
      liveSite(orgId, siteId);
      const changes = await readJson(c, UpdateSiteRequest);
      const updated = db.transaction(() => {
        updateSiteMetadata(db, liveSite(orgId, siteId).id, changes);
        return liveSite(orgId, siteId);
      });
      deps.logger.info('site_updated', { orgId, siteId, fields: Object.keys(changes) });
      return c.json(siteView(updated));
    })
    .delete(SITE, requireAuth(deps), requireRole(deps, 'owner'), (c) => {
      const { orgId, siteId } = readParams(c, SiteParams);
      const at = deps.clock.iso();
      db.transaction(() => {
        liveSite(orgId, siteId);
        revokeSiteEdges(db, siteId, at);
        revokeServer(db, siteId, at);
        expireSitePairingCodes(db, siteId, at);
        markSiteDeleted(db, siteId, at);
      });
      deps.logger.info('site_deleted', { orgId, siteId });
      return c.body(null, 204);
    });
}
