/**
 * Edge tokens the site server issues itself on an air-gapped site: the cloud's claims exactly (`EdgeTokenClaims`,
 * the same audience and lifetime), but `iss` = `siteIssuer(siteId)` and signed ES256 with the site server's own
 * key (header `kid` = its `kid`), the key the offline licence file names so a device can verify the chain. The
 * broker verifies them with that key only, issuer and algorithm pinned.
 */
import { randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { EdgeTokenClaims, TokenVerificationError, edgeTokenAudience, siteIssuer } from '../../../protocol/index.js';
import type { SigningKey } from './site-keys.js';

/** As the cloud's default edge token lifetime: a device refreshes the same way whoever issued its token. */
export const SITE_EDGE_TOKEN_TTL_SECONDS = 30 * 24 * 3600;
const ALGORITHM = 'ES256';

export type SiteTokenClaimsInput = Omit<EdgeTokenClaims, 'iss' | 'aud' | 'iat' | 'exp' | 'jti'>;

export class SiteTokens {
  readonly issuer: string;

  constructor(
    private readonly key: SigningKey,
    private readonly siteId: string,
  ) {
    this.issuer = siteIssuer(siteId);
  }

  sign(claims: SiteTokenClaimsInput, nowSeconds = Math.floor(Date.now() / 1000)): Promise<string> {
    return new SignJWT({ ...claims, jti: randomUUID() })
      .setProtectedHeader({ alg: ALGORITHM, kid: this.key.kid, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setAudience(edgeTokenAudience(this.siteId))
      .setIssuedAt(nowSeconds)
      .setExpirationTime(nowSeconds + SITE_EDGE_TOKEN_TTL_SECONDS)
      .sign(this.key.privateKey);
  }

  /** Verifies a token this server issued: its key, ES256, its issuer, this site's audience. */
  async verify(token: string, clockToleranceSeconds: number): Promise<EdgeTokenClaims> {
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, this.key.publicKey, {
        algorithms: [ALGORITHM],
        issuer: this.issuer,
        audience: edgeTokenAudience(this.siteId),
        clockTolerance: clockToleranceSeconds,
      }));
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'ERR_JWT_EXPIRED') throw new TokenVerificationError('expired', 'the token has expired');
      throw new TokenVerificationError('invalid', `the token is not valid (${code ?? 'invalid'})`);
    }
    const claims = EdgeTokenClaims.safeParse(payload);
    if (!claims.success || claims.data.site !== this.siteId)
      throw new TokenVerificationError('invalid', "the token's claims are malformed or for another site");
    return claims.data;
  }
}
