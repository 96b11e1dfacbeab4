/**
 * The site connection a token-refresh answer carries is believed only when the new edge token, verified against
 * the cloud's JWKS, names its hash in `cfg` (issue 17): the JSON beside the token is not signed, the token is.
 */
import { siteConnectionHash, type EdgeTokenClaims, type SiteConnection } from '../../protocol/index.js';
import type { Logger } from '../../common/log/log.js';

export function signedConnection(
  connection: SiteConnection | undefined,
  claims: EdgeTokenClaims,
  logger: Logger,
): SiteConnection | undefined {
  if (!connection) return undefined;
  if (claims.cfg === siteConnectionHash(connection)) return connection;
  // Two causes, two reasons: the log's repeat limiter summarises only repeats of one cause.
  logger.warn('site_connection_unsigned', {
    note: 'the refresh answer named a site connection its token does not sign; it is ignored, the token is kept',
    reason: claims.cfg === undefined ? 'the token has no cfg claim' : 'the connection does not match the cfg claim',
  });
  return undefined;
}
