/**
 * The site server's credential: its site token (audience `consystence-cloud`). Only the token of the site's
 * current registration counts: another server registering, or the site being deleted, retires it.
 */
import type { Context } from 'hono';
import { decodeJwt } from 'jose';
import { SITE_TOKEN_AUDIENCE } from '../../../protocol/index.js';
import type { CloudDeps } from '../context.js';
import { HttpError } from '../../../common/http/http-error.js';
import { findServer } from '../store/servers.js';
import { bearerOf } from './auth.js';

/** Whether the bearer claims to be a site token (the audience picks the verifier; the verifier then decides). */
export function bearsSiteToken(c: Context): boolean {
  const token = bearerOf(c);
  if (!token) return false;
  try {
    return decodeJwt(token).aud === SITE_TOKEN_AUDIENCE;
  } catch {
    return false;
  }
}

/** Verifies the bearer as the current site token of a site and returns that site's ids. */
export async function authenticateSiteToken(deps: CloudDeps, c: Context): Promise<{ orgId: string; siteId: string }> {
  const token = bearerOf(c);
  if (!token) throw HttpError.unauthenticated('a site token is required');
  const claims = await deps.tokens.verifySiteToken(token);
  const server = findServer(deps.db, claims.sub);
  if (!server || server.revokedAt) throw HttpError.unauthenticated('this site token has been revoked', 'INVALID_TOKEN');
  if (server.tokenJti !== claims.jti)
    throw new HttpError(
      401,
      'SITE_SERVER_REPLACED',
      `another site server (${server.hostname}) was registered for this site at ${server.registeredAt}`,
    );
  return { orgId: claims.org, siteId: claims.sub };
}

/** `authenticateSiteToken` for a route of one site: a token of another site is 403. */
export async function requireSiteToken(deps: CloudDeps, c: Context, orgId: string, siteId: string): Promise<void> {
  const site = await authenticateSiteToken(deps, c);
  if (site.siteId !== siteId || site.orgId !== orgId) throw HttpError.forbidden('this site token is for another site');
}
