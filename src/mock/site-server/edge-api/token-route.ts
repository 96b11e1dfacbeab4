/**
 * `POST SITE_EDGE_ROUTES.token`: a new site-issued edge token for a device-key assertion, checked exactly as the
 * cloud checks one (`src/mock/cloud/routes/edge-token.ts`): the registration it names (`iss` = `sub` = the edge
 * uuid this server issued, for this edge id), verified with that registration's device key and the algorithm its
 * type pins, `aud` = this route's exact public URL, at most a minute of clock leeway, `iat` not ahead of this
 * server's clock, each `jti` once, and a revoked (replaced) registration refused. The answer carries the site's
 * connection, its hash signed into the token as `cfg`.
 */
import type { Context } from 'hono';
import { calculateJwkThumbprint, decodeJwt, importJWK, jwtVerify, type JWK } from 'jose';
import { HttpError } from '../../../common/http/http-error.js';
import type { Logger } from '../../../common/log/log.js';
import {
  DeviceAssertionClaims,
  EdgeId,
  SITE_EDGE_ROUTES,
  Uuid,
  algorithmForJwk,
  siteConnectionHash,
  siteEdgeUrl,
  type SiteConnection,
  type TokenRefreshResponse,
} from '../../../protocol/index.js';
import type { SiteRegistration, SiteRegistry } from './site-registry.js';
import type { SiteTokens } from './site-tokens.js';

const ASSERTION_CLOCK_TOLERANCE_SECONDS = 60;

export interface TokenBackend {
  orgId: string;
  siteId: string;
  registry: SiteRegistry;
  tokens: SiteTokens;
  logger: Logger;
  /** This listener's public base URL: the assertion's `aud` is the route on it. */
  edgeUrl: string;
  connection(): SiteConnection;
}

const invalidAssertion = (why: string) =>
  HttpError.unauthenticated(`the assertion is not valid: ${why}`, 'INVALID_TOKEN');

function claimedRegistration(registry: SiteRegistry, assertion: string, edgeId: string): SiteRegistration {
  let issuer: unknown;
  try {
    issuer = decodeJwt(assertion).iss;
  } catch {
    throw invalidAssertion('not a JWT');
  }
  const uuid = Uuid.safeParse(issuer);
  const registration = uuid.success ? registry.registration(uuid.data) : undefined;
  if (!registration || registration.edgeId !== edgeId) throw invalidAssertion('unknown issuer for this edge');
  return registration;
}

export async function handleTokenRefresh(c: Context, backend: TokenBackend): Promise<Response> {
  const edgeId = EdgeId.safeParse(c.req.param('edgeId'));
  if (!edgeId.success) throw HttpError.notFound('edge');
  const assertion = /^Bearer (\S{1,8192})$/.exec(c.req.header('authorization') ?? '')?.[1];
  if (!assertion) throw HttpError.unauthenticated('a device-key assertion is required');
  const registration = claimedRegistration(backend.registry, assertion, edgeId.data);

  const algorithm = algorithmForJwk(registration.publicJwk);
  let payload: unknown;
  try {
    ({ payload } = await jwtVerify(assertion, await importJWK(registration.publicJwk as JWK, algorithm), {
      algorithms: [algorithm],
      audience: siteEdgeUrl(backend.edgeUrl, SITE_EDGE_ROUTES.token, { edgeId: edgeId.data }),
      issuer: registration.uuid,
      subject: registration.uuid,
      clockTolerance: ASSERTION_CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ['iat', 'exp', 'jti'],
    }));
  } catch (error) {
    throw invalidAssertion((error as { code?: string }).code ?? 'verification failed');
  }
  const claims = DeviceAssertionClaims.safeParse(payload);
  if (!claims.success) throw invalidAssertion(claims.error.issues[0]?.message ?? 'bad claims');
  const nowSeconds = Math.floor(Date.now() / 1000);
  const aheadSeconds = claims.data.iat - nowSeconds;
  if (aheadSeconds > ASSERTION_CLOCK_TOLERANCE_SECONDS)
    throw invalidAssertion(
      `iat is ${aheadSeconds} s ahead of the site server's clock (${ASSERTION_CLOCK_TOLERANCE_SECONDS} s allowed); sign it with the server's time`,
    );

  const connection = backend.connection();
  const edgeToken = await backend.tokens.sign({
    sub: registration.uuid,
    edge: registration.edgeId,
    site: backend.siteId,
    org: backend.orgId,
    hw: registration.hardwareId,
    cnf: { jkt: await calculateJwkThumbprint(registration.publicJwk as JWK) },
    cfg: siteConnectionHash(connection),
  });
  backend.registry.transaction(() => {
    if (backend.registry.registration(registration.uuid)?.revokedAt)
      throw HttpError.unauthenticated('this registration was replaced; register the edge again', 'EDGE_REVOKED');
    if (!backend.registry.useAssertion(registration.uuid, claims.data.jti, claims.data.exp, nowSeconds))
      throw HttpError.unauthenticated(
        'this assertion was already used; sign a new one with a fresh jti',
        'ASSERTION_REPLAYED',
      );
  });
  backend.logger.info('edge_token_refreshed', { edgeId: registration.edgeId, edgeUuid: registration.uuid });
  const response: TokenRefreshResponse = { edgeToken, serverTime: new Date().toISOString(), connection };
  return c.json(response);
}
