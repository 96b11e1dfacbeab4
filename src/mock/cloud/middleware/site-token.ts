/**
 * The site server's own credential: the long-lived site token from register-server. Only the token of the site's
 * current registration counts: another server registering, or the site being deleted, retires it.
 */
import { decodeJwt } from 'jose';
import { SITE_TOKEN_AUDIENCE, type SiteTokenClaims } from '../../../protocol/index.js';
import type { CloudDeps } from '../context.js';
import { HttpError } from '../../../common/http/http-error.js';
import { findServer } from '../store/servers.js';

/** The audience picks the verifier (site token or user token); the verifier then decides. */
export function isSiteToken(bearer: string | undefined): bearer is string {
  try {
    return bearer !== undefined && decodeJwt(bearer).aud === SITE_TOKEN_AUDIENCE;
  } catch {
    return false;
  }
}

/** Verifies a site token for this site: signature and expiry, then that it belongs to the current registration. */
export async function authenticateSiteServer(
  deps: CloudDeps,
  token: string,
  orgId: string,
  siteId: string,
): Promise<SiteTokenClaims> {
  const claims = await deps.tokens.verifySiteToken(token);
  if (claims.sub !== siteId || claims.org !== orgId) throw HttpError.forbidden('this site token is for another site');
  const server = findServer(deps.db, siteId);
  if (!server || server.revokedAt) throw HttpError.unauthenticated('this site token has been revoked', 'INVALID_TOKEN');
  if (server.tokenJti !== claims.jti)
    throw new HttpError(
      401,
      'SITE_SERVER_REPLACED',
      `another site server (${server.hostname}) was registered for this site at ${server.registeredAt}`,
    );
  return claims;
}
