/**
 * `GET …/sites/{siteId}/edges` (viewer+, or the site's own site token, which is how the site server learns
 * revocations) and `DELETE …/edges/{edgeId}` (admin+, revokes; repeating it is harmless).
 */
import type { Context } from 'hono';
import { Hono } from 'hono';
import { decodeJwt } from 'jose';
import { SITE_TOKEN_AUDIENCE, CLOUD_ROUTES } from '../../../protocol/index.js';
import type { CloudDeps, CloudEnv } from '../context.js';
import { HttpError } from '../../../common/http/http-error.js';
import { assertRole, authenticateUser, bearerOf, requireAuth, requireRole } from '../middleware/auth.js';
import { readParams } from '../middleware/body.js';
import { findLatestEdgeByEdgeId, listSiteEdges, revokeEdge, toEdgeSummary } from '../store/edges.js';
import { findServer } from '../store/servers.js';
import { findLiveSite } from '../store/sites.js';
import { EdgeParams, SiteParams } from './params.js';

/** The audience picks the verifier; the verifier (signature, issuer, expiry) then decides. */
function audienceOf(token: string): unknown {
  try {
    return decodeJwt(token).aud;
  } catch {
    return undefined;
  }
}

async function authoriseEdgeList(deps: CloudDeps, c: Context, orgId: string, siteId: string): Promise<void> {
  const token = bearerOf(c);
  if (token && audienceOf(token) === SITE_TOKEN_AUDIENCE) {
    const claims = await deps.tokens.verifySiteToken(token);
    if (claims.sub !== siteId || claims.org !== orgId) throw HttpError.forbidden('this site token is for another site');
    const server = findServer(deps.db, siteId);
    // Only the token of the current registration counts: another server registering or deleting the site retires it.
    if (!server || server.revokedAt)
      throw HttpError.unauthenticated('this site token has been revoked', 'INVALID_TOKEN');
    if (server.tokenJti !== claims.jti)
      throw new HttpError(
        401,
        'SITE_SERVER_REPLACED',
        `another site server (${server.hostname}) was registered for this site at ${server.registeredAt}`,
      );
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
