/**
 * `POST …/edges/{edgeId}/token`: a new edge token for a device-key assertion. The assertion names its edge
 * registration (`iss` = `sub` = the edge uuid) and is checked by the contract's `verifyDeviceAssertion` with that
 * registration's key. It works after the old edge token expired (only the device key matters), and each `jti` is
 * accepted once. The answer carries the site's current
 * connection, its hash signed into the token as `cfg` (issue 17).
 */
import { Hono } from 'hono';
import { calculateJwkThumbprint } from 'jose';
import {
  AssertionVerificationError,
  claimedAssertionIssuer,
  verifyDeviceAssertion,
  type TokenRefreshResponse,
  CLOUD_ROUTES,
  edgeTokenUrl,
  siteConnectionHash,
} from '../../../protocol/index.js';
import type { CloudDeps, CloudEnv } from '../context.js';
import { HttpError } from '../../../common/http/http-error.js';
import { bearerOf } from '../middleware/auth.js';
import { readParams } from '../middleware/body.js';
import { recordAssertion } from '../store/assertions.js';
import { currentSiteConnection } from '../site-connection.js';
import { findEdgeByUuid } from '../store/edges.js';
import { findLiveSite } from '../store/sites.js';
import { EdgeParams } from './params.js';

const invalidAssertion = (why: string) =>
  HttpError.unauthenticated(`the assertion is not valid: ${why}`, 'INVALID_TOKEN');

/** Verifies the assertion against the edge registration it names; refusals become 401 INVALID_TOKEN. */
async function verifiedAssertion(
  deps: CloudDeps,
  assertion: string,
  params: { orgId: string; siteId: string; edgeId: string },
) {
  try {
    const issuer = claimedAssertionIssuer(assertion);
    const edge = issuer ? findEdgeByUuid(deps.db, issuer) : undefined;
    if (!edge || edge.orgId !== params.orgId || edge.siteId !== params.siteId || edge.edgeId !== params.edgeId)
      throw invalidAssertion('unknown issuer for this edge');
    const claims = await verifyDeviceAssertion(assertion, {
      registrationId: edge.id,
      publicJwk: edge.publicJwk,
      audience: edgeTokenUrl(deps.publicUrl, params),
      now: deps.clock.now(),
      clockOwner: "the cloud's",
    });
    return { edge, claims };
  } catch (error) {
    if (error instanceof AssertionVerificationError) throw invalidAssertion(error.message);
    throw error;
  }
}

export function edgeTokenRoutes(deps: CloudDeps): Hono<CloudEnv> {
  const { db } = deps;
  return new Hono<CloudEnv>().post(CLOUD_ROUTES.edgeToken, async (c) => {
    const params = readParams(c, EdgeParams);
    const assertion = bearerOf(c);
    if (!assertion) throw HttpError.unauthenticated('a device-key assertion is required');
    const { edge, claims } = await verifiedAssertion(deps, assertion, params);

    const site = findLiveSite(db, edge.orgId, edge.siteId);
    if (!site) throw HttpError.notFound('site');
    // Where the site server is now, bound to the token by its hash: the device accepts only what this token signs.
    const connection = currentSiteConnection(db, site);
    const edgeToken = await deps.tokens.signEdgeToken({
      sub: edge.id,
      edge: edge.edgeId,
      site: edge.siteId,
      org: edge.orgId,
      hw: edge.hardwareId,
      cnf: { jkt: await calculateJwkThumbprint(edge.publicJwk) },
      cfg: siteConnectionHash(connection),
    });
    db.transaction(() => {
      if (findEdgeByUuid(db, edge.id)?.revokedAt)
        throw HttpError.unauthenticated('this edge has been revoked; pair it again with a new code', 'EDGE_REVOKED');
      if (!recordAssertion(db, edge.id, claims.jti, claims.exp, deps.clock.nowSeconds())) {
        throw HttpError.unauthenticated(
          'this assertion was already used; sign a new one with a fresh jti',
          'ASSERTION_REPLAYED',
        );
      }
    });
    deps.logger.info('edge_token_refreshed', {
      orgId: edge.orgId,
      siteId: edge.siteId,
      edgeId: edge.edgeId,
      edgeUuid: edge.id,
    });
    const response: TokenRefreshResponse = { edgeToken, serverTime: deps.clock.iso(), connection };
    return c.json(response);
  });
}
