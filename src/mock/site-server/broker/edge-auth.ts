/**
 * Decides whether a CONNECT may become an edge session (CONTRACT §4): the token verified with the cached JWKS
 * (ES256 pinned, audience of this site, the cloud's issuer, 60 s leeway on exp), `edge == username == clientId`,
 * and the edge's standing on the cached edge list. The answer carries the MQTT 3.1.1 return code to send:
 * 4 for a bad or expired token, 5 for a valid token that may not connect here (revoked, wrong site, older
 * registration), 3 while the server has no keys to check with. A token older than one the edge has already
 * connected with is refused with 4: a rotated token stops working once its replacement is in use.
 *
 * Tokens this site server issued itself on an air-gapped site (issue 15, `iss` = `siteIssuer(siteId)`) are
 * verified with its own signing key only, and their standing is its own registration record, not the cloud's list.
 */
import { decodeJwt, type JSONWebKeySet } from 'jose';
import type { Logger } from '../../../common/log/log.js';
import {
  EdgeId,
  TokenVerificationError,
  Uuid,
  verifyEdgeToken,
  type EdgeTokenClaims,
} from '../../../protocol/index.js';
import type { SiteRegistry } from '../edge-api/site-registry.js';
import type { SiteTokens } from '../edge-api/site-tokens.js';
import type { TrustRefresher } from '../upstream/refresher.js';
import type { TrustStore } from '../upstream/trust-store.js';

export const EXP_LEEWAY_SECONDS = 60;
const MAX_TOKEN_BYTES = 8192;

export type ReturnCode = 3 | 4 | 5;
export type AuthDecision =
  | { ok: true; claims: EdgeTokenClaims }
  | { ok: false; returnCode: ReturnCode; reason: string };
export type Standing = { ok: true; unverified?: boolean } | { ok: false; reason: string };

const refuse = (returnCode: ReturnCode, reason: string): AuthDecision => ({ ok: false, returnCode, reason });

export class EdgeAuthenticator {
  /**
   * The newest token issue time each edge has connected with. Once an edge uses a refreshed token, the one it
   * replaced is dead here (issue 18: a token carved from a disk stays useless). Kept in memory: a restart of the
   * mock forgets it until each edge connects again.
   */
  private readonly newestIat = new Map<string, number>();

  constructor(
    private readonly store: TrustStore,
    private readonly siteId: string,
    private readonly issuer: string,
    private readonly refresher: TrustRefresher | undefined,
    private readonly logger: Logger,
    /** The site server's own issuer: its token signer and its registrations. */
    private readonly site?: { tokens: SiteTokens; registry: SiteRegistry },
  ) {}

  private isSiteIssued(token: string): boolean {
    if (!this.site) return false;
    try {
      return decodeJwt(token).iss === this.site.tokens.issuer;
    } catch {
      return false;
    }
  }

  async authenticate(
    clientId: string,
    username: string | undefined,
    password: Buffer | undefined,
  ): Promise<AuthDecision> {
    if (!username || username !== clientId) return refuse(4, 'username must equal the client id');
    if (!EdgeId.safeParse(username).success) return refuse(4, 'the username is not an edge id');
    if (!password || password.length === 0 || password.length > MAX_TOKEN_BYTES)
      return refuse(4, 'the password must be the edge token');
    const token = password.toString('utf8');
    if (this.isSiteIssued(token)) return this.authenticateSiteIssued(token, username);
    const jwks = this.store.jwks();
    if (!jwks) return refuse(3, 'no cached JWKS yet');

    let claims: EdgeTokenClaims;
    try {
      claims = await verifyEdgeToken(token, jwks, this.siteId, {
        issuer: this.issuer,
        clockToleranceSeconds: EXP_LEEWAY_SECONDS,
      });
    } catch (error) {
      const reason = error instanceof TokenVerificationError ? error.reason : 'invalid';
      if (reason === 'invalid' && (await this.isGenuineTokenForAnotherSite(token, jwks)))
        return refuse(5, 'the token is for another site');
      return refuse(4, reason === 'expired' ? 'the token has expired' : 'the token is not valid');
    }
    if (claims.edge !== username) return refuse(5, 'the token belongs to another edge');

    let standing = this.standing(claims);
    if (!standing.ok && standing.reason === 'unknown' && this.refresher) {
      // A freshly paired edge may connect before our next periodic refresh: ask the cloud now.
      const refreshed = await this.refresher.refreshNow();
      standing = this.standing(claims);
      if (!standing.ok && standing.reason === 'unknown' && !refreshed.ok) {
        this.logger.warn('edge_admitted_unverified', {
          edgeId: claims.edge,
          note: 'not on the cached edge list and the cloud is unreachable; the token signature is the only proof',
        });
        standing = { ok: true, unverified: true };
      }
    }
    if (!standing.ok)
      return refuse(5, standing.reason === 'unknown' ? 'the edge is not registered at this site' : standing.reason);
    return this.admitNewest(claims);
  }

  /**
   * The edge's standing on the cached list: active, revoked, not there at all ('unknown'), or a token from an
   * older registration (the same edge id re-paired since, so its uuid changed or the token predates it).
   */
  standing(claims: EdgeTokenClaims): Standing {
    if (this.site && claims.iss === this.site.tokens.issuer) {
      const registration = this.site.registry.registration(claims.sub);
      if (!registration || registration.edgeId !== claims.edge) return { ok: false, reason: 'unknown' };
      return registration.revokedAt
        ? { ok: false, reason: 'the token is from an older registration of this edge' }
        : { ok: true };
    }
    const known = this.store.edge(claims.edge);
    if (!known)
      return this.store.edgeListFetchedAt() === undefined
        ? { ok: true, unverified: true }
        : { ok: false, reason: 'unknown' };
    if (known.status === 'revoked') return { ok: false, reason: 'the edge is revoked' };
    if (known.id && known.id !== claims.sub)
      return { ok: false, reason: 'the token is from an older registration of this edge' };
    if (known.registeredAt) {
      const registered = Math.floor(Date.parse(known.registeredAt) / 1000);
      if (Number.isFinite(registered) && claims.iat + 1 < registered)
        return { ok: false, reason: 'the token predates the current registration of this edge' };
    }
    return { ok: true };
  }

  private async authenticateSiteIssued(token: string, username: string): Promise<AuthDecision> {
    let claims: EdgeTokenClaims;
    try {
      claims = await this.site!.tokens.verify(token, EXP_LEEWAY_SECONDS);
    } catch (error) {
      const expired = error instanceof TokenVerificationError && error.reason === 'expired';
      return refuse(4, expired ? 'the token has expired' : 'the token is not valid');
    }
    if (claims.edge !== username) return refuse(5, 'the token belongs to another edge');
    const standing = this.standing(claims);
    if (!standing.ok)
      return refuse(5, standing.reason === 'unknown' ? 'the edge is not registered at this site' : standing.reason);
    return this.admitNewest(claims);
  }

  /** Admits a token unless the edge has already connected with a newer one. */
  private admitNewest(claims: EdgeTokenClaims): AuthDecision {
    if (claims.iat < (this.newestIat.get(claims.edge) ?? 0))
      return refuse(4, 'the token was replaced by a newer one this edge has used');
    this.newestIat.set(claims.edge, claims.iat);
    return { ok: true, claims };
  }

  /** A token that fails only because it is for another site (signature still good) earns 5, not 4. */
  private async isGenuineTokenForAnotherSite(token: string, jwks: JSONWebKeySet): Promise<boolean> {
    let site: unknown;
    try {
      site = decodeJwt(token).site;
    } catch {
      return false;
    }
    if (!Uuid.safeParse(site).success || site === this.siteId) return false;
    try {
      await verifyEdgeToken(token, jwks, site as string, {
        issuer: this.issuer,
        clockToleranceSeconds: EXP_LEEWAY_SECONDS,
      });
      return true;
    } catch {
      return false;
    }
  }
}
