/**
 * The site server's own credential: the long-lived site token from register-server (audience
 * `consystence-cloud`). Only the token of the site's current registration counts: another server registering, or
 * the site being deleted, retires it.
 */
import type { Context } from 'hono';
import { decodeJwt } from 'jose';
import { SITE_TOKEN_AUDIENCE, type SiteTokenClaims } from '../../../protocol/index.js';
import type { CloudDeps } from '../context.js';
import { HttpError } from '../../../common/http/http-error.js';
import { findServer } from '../store/servers.js';
import { bearerOf } from './auth.js';

/** The audience picks the verifier (site token or user token); the verifier then decides. */
export function isSiteToken(bearer: string | undefined): bearer is string {
  try {
    return bearer !== undefined && decodeJwt(bearer).aud === SITE_TOKEN_AUDIENCE;
  } catch {
    return false;
  }
}

/** `isSiteToken` of the request's bearer. */
export function bearsSiteToken(c: Context): boolean {
  return isSiteToken(bearerOf(c));
}

/** Signature and expiry, then that the token belongs to its site's current registration. */
async function currentSiteToken(deps: CloudDeps, token: string): Promise<SiteTokenClaims> {
  const claims = await deps.tokens.verifySiteToken(token);
  const server = findServer(deps.db, claims.sub);
  if (!server || server.revokedAt) throw HttpError.unauthenticated('this site token has been revoked', 'INVALID_TOKEN');
  if (server.tokenJti !== claims.jti)
    throw new HttpError(
      401,
      'SITE_SERVER_REPLACED',
      `another site server (${server.hostname}) was registered for this site at ${server.registeredAt}`,
    );
  return claims;
}

/** Verifies a site token for this site; a token of another site is 403. */
export async function authenticateSiteServer(
  deps: CloudDeps,
  token: string,
  orgId: string,
  siteId: string,
): Promise<SiteTokenClaims> {
  const claims = await deps.tokens.verifySiteToken(token);
  if (claims.sub !== siteId || claims.org !== orgId) throw HttpError.forbidden('this site token is for another site');
  return currentSiteToken(deps, token);
}

/** Verifies the request's bearer as the current site token of whichever site it names, and returns that site. */
export async function authenticateSiteToken(deps: CloudDeps, c: Context): Promise<{ orgId: string; siteId: string }> {
  const token = bearerOf(c);
  if (!token) throw HttpError.unauthenticated('a site token is required');
  const claims = await currentSiteToken(deps, token);
  return { orgId: claims.org, siteId: claims.sub };
}

/** `authenticateSiteServer` for the request's bearer, which must be a site token. */
export async function requireSiteToken(deps: CloudDeps, c: Context, orgId: string, siteId: string): Promise<void> {
  const bearer = bearerOf(c);
  if (!isSiteToken(bearer)) throw HttpError.unauthenticated('the site token of this site is required');
  await authenticateSiteServer(deps, bearer, orgId, siteId);
}
