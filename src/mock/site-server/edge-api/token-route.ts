/**
 * `POST SITE_EDGE_ROUTES.token`: a new site-issued edge token for a device-key assertion, checked as the cloud
 * checks one (`verifyDeviceAssertion` in the contract) against the registration it names (`iss` = `sub` = the
 * edge uuid this server issued, for this edge id); each `jti` once, and a revoked (replaced) registration refused.
 * The answer carries the site's connection, its hash signed into the token as `cfg`.
 */
import type { Context } from 'hono';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { HttpError } from '../../../common/http/http-error.js';
import type { Logger } from '../../../common/log/log.js';
import {
  AssertionVerificationError,
  claimedAssertionIssuer,
  EdgeId,
  SITE_EDGE_ROUTES,
  verifyDeviceAssertion,
  siteConnectionHash,
  siteEdgeUrl,
  type SiteConnection,
  type TokenRefreshResponse,
} from '../../../protocol/index.js';
import type { SiteRegistry } from './site-registry.js';
import type { SiteTokens } from './site-tokens.js';

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

/** Verifies the assertion against the registration it names; refusals become 401 INVALID_TOKEN. */
async function verifiedAssertion(backend: TokenBackend, assertion: string, edgeId: string, now: Date) {
  try {
    const issuer = claimedAssertionIssuer(assertion);
    const registration = issuer ? backend.registry.registration(issuer) : undefined;
    if (!registration || registration.edgeId !== edgeId) throw invalidAssertion('unknown issuer for this edge');
    const claims = await verifyDeviceAssertion(assertion, {
      registrationId: registration.uuid,
      publicJwk: registration.publicJwk,
      audience: siteEdgeUrl(backend.edgeUrl, SITE_EDGE_ROUTES.token, { edgeId }),
      now,
      clockOwner: "the site server's",
    });
    return { registration, claims };
  } catch (error) {
    if (error instanceof AssertionVerificationError) throw invalidAssertion(error.message);
    throw error;
  }
}

export async function handleTokenRefresh(c: Context, backend: TokenBackend): Promise<Response> {
  const edgeId = EdgeId.safeParse(c.req.param('edgeId'));
  if (!edgeId.success) throw HttpError.notFound('edge');
  const assertion = /^Bearer (\S{1,8192})$/.exec(c.req.header('authorization') ?? '')?.[1];
  if (!assertion) throw HttpError.unauthenticated('a device-key assertion is required');
  const now = new Date();
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const { registration, claims } = await verifiedAssertion(backend, assertion, edgeId.data, now);

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
    if (!backend.registry.useAssertion(registration.uuid, claims.jti, claims.exp, nowSeconds))
      throw HttpError.unauthenticated(
        'this assertion was already used; sign a new one with a fresh jti',
        'ASSERTION_REPLAYED',
      );
  });
  backend.logger.info('edge_token_refreshed', { edgeId: registration.edgeId, edgeUuid: registration.uuid });
  const response: TokenRefreshResponse = { edgeToken, serverTime: new Date().toISOString(), connection };
  return c.json(response);
}
