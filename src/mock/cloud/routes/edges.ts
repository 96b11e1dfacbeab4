/**
 * `GET …/sites/{siteId}/edges` (viewer+, or the site's own site token, which is how the site server learns
 * revocations) and `DELETE …/edges/{edgeId}` (admin+, revokes; repeating it is harmless).
 */
import type { Context } from 'hono';
import { Hono } from 'hono';
import { CLOUD_ROUTES } from '../../../protocol/index.js';
import type { CloudDeps, CloudEnv } from '../context.js';
import { HttpError } from '../../../common/http/http-error.js';
import { assertRole, authenticateUser, bearerOf, requireAuth, requireRole } from '../middleware/auth.js';
import { readParams } from '../middleware/body.js';
import { authenticateSiteServer, isSiteToken } from '../middleware/site-token.js';
import { findLatestEdgeByEdgeId, listSiteEdges, revokeEdge, toEdgeSummary } from '../store/edges.js';
import { findLiveSite } from '../store/sites.js';
import { EdgeParams, SiteParams } from './params.js';

async function authoriseEdgeList(deps: CloudDeps, c: Context, orgId: string, siteId: string): Promise<void> {
  const token = bearerOf(c);
  if (isSiteToken(token)) {
    await authenticateSiteServer(deps, token, orgId, siteId);
    return;
  }
  assertRole(deps, await authenticateUser(deps, token), orgId, 'viewer');
}

export function edgeRoutes(deps: CloudDeps): Hono<CloudEnv> {
  const { db } = deps;
  return new Hono<CloudEnv>()
    .get(CLOUD_ROUTES.edges, async (c) => {
      const { orgId, siteId } = readParams(c, SiteParams);
      await authoriseEdgeList(deps, c, orgId, siteId);
      if (!findLiveSite(db, orgId, siteId)) throw HttpError.notFound('site');
      return c.json({ data: listSiteEdges(db, siteId).map(toEdgeSummary) });
    })
    .delete(CLOUD_ROUTES.edge, requireAuth(deps), requireRole(deps, 'admin'), (c) => {
      const { orgId, siteId, edgeId } = readParams(c, EdgeParams);
      db.transaction(() => {
        if (!findLiveSite(db, orgId, siteId)) throw HttpError.notFound('site');
        const edge = findLatestEdgeByEdgeId(db, siteId, edgeId);
        if (!edge) throw HttpError.notFound('edge');
        revokeEdge(db, edge.id, deps.clock.iso(), 'revoked by an administrator');
      });
      deps.logger.info('edge_revoked', { orgId, siteId, edgeId });
      return c.body(null, 204);
    });
}
