/**
 * Verification of cloud-issued tokens, shared by the edge (at pairing and refresh) and the site server (at
 * CONNECT). The algorithm is pinned to the cloud's; claims are checked with zod after jose checked the
 * signature, audience, issuer and times.
 */
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { z } from 'zod';
import {
  CLOUD_SIGNING_ALGORITHM,
  EdgeTokenClaims,
  SiteTokenClaims,
  SITE_TOKEN_AUDIENCE,
  edgeTokenAudience,
} from './tokens.js';

export const Jwks = z.object({
  keys: z
    .array(z.object({ kty: z.string(), kid: z.string().optional(), alg: z.string().optional() }).passthrough())
    .min(1)
    .max(20),
});

export interface VerifyOptions {
  /** Expected issuer (the cloud's public URL); omitted only where the issuer is not known yet. */
  issuer?: string;
  /** The time to judge `exp`/`nbf` by: the device's clock corrected by the server's. */
  currentDate?: Date;
  /** Seconds of leeway on `exp` (CONTRACT §4: 60 s at the site server). */
  clockToleranceSeconds?: number;
}

export type TokenFailure = 'expired' | 'invalid';
export class TokenVerificationError extends Error {
  override readonly name = 'TokenVerificationError';
  constructor(
    readonly reason: TokenFailure,
    message: string,
  ) {
    super(message);
  }
}

/**
 * One key set per JWKS object: building it snapshots the set and re-imports the key on first use, which costs
 * more than the verification itself. Keyed by identity, so a caller that passes a new JWKS object gets a new set;
 * a JWKS object must not be changed in place once it has been used.
 */
const keySets = new WeakMap<JSONWebKeySet, ReturnType<typeof createLocalJWKSet>>();
function keySetOf(jwks: JSONWebKeySet): ReturnType<typeof createLocalJWKSet> {
  let keySet = keySets.get(jwks);
  if (!keySet) {
    keySet = createLocalJWKSet(jwks);
    keySets.set(jwks, keySet);
  }
  return keySet;
}

async function verifyWith<T extends z.ZodType>(
  token: string,
  jwks: JSONWebKeySet,
  audience: string,
  schema: T,
  options: VerifyOptions,
): Promise<z.infer<T>> {
  let payload: unknown;
  try {
    const result = await jwtVerify(token, keySetOf(jwks), {
      algorithms: [CLOUD_SIGNING_ALGORITHM],
      audience,
      ...(options.issuer ? { issuer: options.issuer } : {}),
      ...(options.currentDate ? { currentDate: options.currentDate } : {}),
      clockTolerance: options.clockToleranceSeconds ?? 0,
    });
    payload = result.payload;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_JWT_EXPIRED') throw new TokenVerificationError('expired', 'the token has expired');
    throw new TokenVerificationError('invalid', `the token is not valid (${code ?? (error as Error).message})`);
  }
  const claims = schema.safeParse(payload);
  if (!claims.success)
    throw new TokenVerificationError(
      'invalid',
      `the token's claims are malformed: ${claims.error.issues[0]?.path.join('.')}`,
    );
  return claims.data;
}

export async function verifyEdgeToken(
  token: string,
  jwks: JSONWebKeySet,
  siteId: string,
  options: VerifyOptions = {},
): Promise<EdgeTokenClaims> {
  const claims = await verifyWith(token, jwks, edgeTokenAudience(siteId), EdgeTokenClaims, options);
  if (claims.site !== siteId) throw new TokenVerificationError('invalid', 'the token is for another site');
  return claims;
}

export async function verifySiteToken(
  token: string,
  jwks: JSONWebKeySet,
  options: VerifyOptions = {},
): Promise<SiteTokenClaims> {
  return verifyWith(token, jwks, SITE_TOKEN_AUDIENCE, SiteTokenClaims, options);
}
