/**
 * Issues and checks the cloud's own tokens (access, site, edge). Times come from the mock's clock, so a clock
 * fault shifts iat/exp consistently. Verification pins ES256 and our key, so `alg:none`, a foreign key, a wrong
 * audience or an expired token are all refused by jose before any claim is read; zod then checks the shape.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify, type JWTPayload } from 'jose';
import type { z } from 'zod';
import {
  ACCESS_TOKEN_AUDIENCE,
  AccessTokenClaims,
  CLOUD_SIGNING_ALGORITHM,
  type EdgeTokenClaims,
  SITE_TOKEN_AUDIENCE,
  SiteTokenClaims,
  edgeTokenAudience,
} from '../../protocol/index.js';
import type { Clock } from './clock.js';
import { HttpError } from '../../common/http/http-error.js';
import type { SigningKey } from './keys.js';

export const ACCESS_TOKEN_TTL_SECONDS = 3600;
export const SITE_TOKEN_TTL_SECONDS = 365 * 24 * 3600;
export const DEFAULT_EDGE_TOKEN_TTL_SECONDS = 30 * 24 * 3600;

export class TokenService {
  constructor(
    private readonly key: SigningKey,
    private readonly clock: Clock,
    readonly issuer: string,
    readonly edgeTokenTtlSeconds: number,
  ) {}

  private async sign(claims: JWTPayload, audience: string, ttlSeconds: number): Promise<string> {
    const iat = this.clock.nowSeconds();
    return new SignJWT(claims)
      .setProtectedHeader({ alg: CLOUD_SIGNING_ALGORITHM, kid: this.key.kid, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setAudience(audience)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttlSeconds)
      .sign(this.key.privateKey);
  }

  signAccessToken(claims: Omit<AccessTokenClaims, 'iss' | 'aud' | 'iat' | 'exp'>): Promise<string> {
    return this.sign(claims, ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_TTL_SECONDS);
  }

  signSiteToken(claims: Omit<SiteTokenClaims, 'iss' | 'aud' | 'iat' | 'exp'>): Promise<string> {
    return this.sign(claims, SITE_TOKEN_AUDIENCE, SITE_TOKEN_TTL_SECONDS);
  }

  signEdgeToken(claims: Omit<EdgeTokenClaims, 'iss' | 'aud' | 'iat' | 'exp' | 'jti'>): Promise<string> {
    return this.sign({ ...claims, jti: randomUUID() }, edgeTokenAudience(claims.site), this.edgeTokenTtlSeconds);
  }

  private async verify<T extends z.ZodType>(token: string, audience: string, schema: T): Promise<z.infer<T>> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.key.publicKey, {
        algorithms: [CLOUD_SIGNING_ALGORITHM],
        audience,
        issuer: this.issuer,
        currentDate: this.clock.now(),
      }));
    } catch (error) {
      if ((error as { code?: string }).code === 'ERR_JWT_EXPIRED')
        throw HttpError.unauthenticated('the token has expired', 'TOKEN_EXPIRED');
      throw HttpError.unauthenticated('the token is not valid', 'INVALID_TOKEN');
    }
    const claims = schema.safeParse(payload);
    if (!claims.success) throw HttpError.unauthenticated('the token is not valid', 'INVALID_TOKEN');
    return claims.data;
  }

  verifyAccessToken(token: string): Promise<AccessTokenClaims> {
    return this.verify(token, ACCESS_TOKEN_AUDIENCE, AccessTokenClaims);
  }

  verifySiteToken(token: string): Promise<SiteTokenClaims> {
    return this.verify(token, SITE_TOKEN_AUDIENCE, SiteTokenClaims);
  }
}
