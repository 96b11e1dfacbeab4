/**
 * `POST …/edges/{edgeId}/token`: a new edge token for a device-key assertion. The assertion names its edge
 * registration (`iss` = `sub` = the edge uuid); it is verified with that registration's key, with the algorithm
 * pinned by the key's type, `aud` = this route's exact public URL, a lifetime of at most 5 minutes, and an `iat`
 * no later than the cloud's clock plus the leeway (an assertion dated ahead would otherwise stay usable until its
 * future expiry, and `jti` replay records are kept only until `exp`). It works after the old edge token expired
 * (only the device key matters), and each `jti` is accepted once. The answer carries the site's current
 * connection, its hash signed into the token as `cfg` (issue 17).
 */
import { Hono } from 'hono';
import { calculateJwkThumbprint, decodeJwt, importJWK, jwtVerify } from 'jose';
import {
  DeviceAssertionClaims,
  Uuid,
  algorithmForJwk,
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
import { findEdgeByUuid, type EdgeRow } from '../store/edges.js';
import { findLiveSite } from '../store/sites.js';
import { EdgeParams } from './params.js';

/** Device clocks drift; a minute of leeway on iat/exp, no more. */
const ASSERTION_CLOCK_TOLERANCE_SECONDS = 60;

const invalidAssertion = (why: string) =>
  HttpError.unauthenticated(`the assertion is not valid: ${why}`, 'INVALID_TOKEN');

/** The registration an assertion claims to come from, read before verification only to pick the key. */
function claimedEdge(
  deps: CloudDeps,
  assertion: string,
  params: { orgId: string; siteId: string; edgeId: string },
): EdgeRow {
  let issuer: unknown;
  try {
    issuer = decodeJwt(assertion).iss;
  } catch {
    throw invalidAssertion('not a JWT');
  }
  const edgeUuid = Uuid.safeParse(issuer);
  const edge = edgeUuid.success ? findEdgeByUuid(deps.db, edgeUuid.data) : undefined;
  if (!edge || edge.orgId !== params.orgId || edge.siteId !== params.siteId || edge.edgeId !== params.edgeId)
    throw invalidAssertion('unknown issuer for this edge');
  return edge;
}

export function edgeTokenRoutes(deps: CloudDeps): Hono<CloudEnv> {
  const { db } = deps;
  return new Hono<CloudEnv>().post(CLOUD_ROUTES.edgeToken, async (c) => {
    const params = readParams(c, EdgeParams);
    const assertion = bearerOf(c);
    if (!assertion) throw HttpError.unauthenticated('a device-key assertion is required');
    const edge = claimedEdge(deps, assertion, params);

    const algorithm = algorithmForJwk(edge.publicJwk);
    const audience = edgeTokenUrl(deps.publicUrl, params);
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(assertion, await importJWK(edge.publicJwk, algorithm), {
        algorithms: [algorithm],
        audience,
        issuer: edge.id,
        subject: edge.id,
        currentDate: deps.clock.now(),
        clockTolerance: ASSERTION_CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['iat', 'exp', 'jti'],
      }));
    } catch (error) {
      throw invalidAssertion((error as { code?: string }).code ?? 'verification failed');
    }
    const claims = DeviceAssertionClaims.safeParse(payload);
    if (!claims.success) throw invalidAssertion(claims.error.issues[0]?.message ?? 'bad claims');
    const aheadSeconds = claims.data.iat - deps.clock.nowSeconds();
    if (aheadSeconds > ASSERTION_CLOCK_TOLERANCE_SECONDS)
      throw invalidAssertion(
        `iat is ${aheadSeconds} s ahead of the cloud's clock (${ASSERTION_CLOCK_TOLERANCE_SECONDS} s allowed); sign it with the server's time`,
      );

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
      if (!recordAssertion(db, edge.id, claims.data.jti, claims.data.exp, deps.clock.nowSeconds())) {
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
