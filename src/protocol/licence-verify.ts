/**
 * Verification of the offline licence file (issue 15), shared by the device (at site registration and refresh)
 * and the site server (at start): a compact JWS signed by one of the cloud's licence keys, its `kid` choosing the
 * key, ES256 and the header `typ` pinned (never taken from the header), and claims checked with zod. Which keys a
 * party trusts, and what it checks beyond this (the site server's own key), stays with that party.
 */
import { decodeProtectedHeader, importJWK, type JSONWebKeySet, type JWK, jwtVerify } from 'jose';
import { z } from 'zod';
import { PublicJwk } from './common.js';
import { LICENCE_JWS_TYPE, LICENCE_SIGNING_ALGORITHM, licenceHash, OfflineLicenceClaims } from './licences.js';

/** The cloud's licence keys as the repository ships them (`keys/licence-keys.json`, embedded in the device). */
export const LicenceKeyList = z.object({
  keys: z
    .array(z.object({ kid: z.string().min(1).max(128), jwk: PublicJwk }))
    .min(1)
    .max(20),
});
export type LicenceKeyList = z.infer<typeof LicenceKeyList>;

/** The list as a key set for jose, each key carrying its `kid`. */
export function licenceKeySet(list: LicenceKeyList): JSONWebKeySet {
  return { keys: list.keys.map(({ kid, jwk }) => ({ ...jwk, kid })) };
}

export type LicenceRefusal = 'not-a-jws' | 'unknown-key' | 'bad-signature' | 'malformed';
export class LicenceVerificationError extends Error {
  override readonly name = 'LicenceVerificationError';
  constructor(
    readonly reason: LicenceRefusal,
    /** The signing key the header names (cut to 64 characters: it is outside input). */
    readonly kid: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** Verifies the licence file's signature by a trusted licence key and the shape of its claims. */
export async function verifyLicenceFile(jws: string, trusted: JSONWebKeySet): Promise<OfflineLicenceClaims> {
  let kid: string | undefined;
  try {
    kid = decodeProtectedHeader(jws).kid?.slice(0, 64);
  } catch {
    throw new LicenceVerificationError('not-a-jws', undefined, 'it is not a signed licence (a compact JWS)');
  }
  const key = kid === undefined ? undefined : trusted.keys.find((k) => k.kid === kid);
  if (!key)
    throw new LicenceVerificationError(
      'unknown-key',
      kid,
      `it is signed by key "${String(kid)}", which is not a cloud licence key`,
    );
  let payload: unknown;
  try {
    ({ payload } = await jwtVerify(jws, await importJWK(key as JWK, LICENCE_SIGNING_ALGORITHM), {
      algorithms: [LICENCE_SIGNING_ALGORITHM],
      typ: LICENCE_JWS_TYPE,
    }));
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'invalid';
    throw new LicenceVerificationError(
      'bad-signature',
      kid,
      `its signature does not verify with the cloud licence key ${kid} (${code})`,
    );
  }
  const claims = OfflineLicenceClaims.safeParse(payload);
  if (!claims.success)
    throw new LicenceVerificationError(
      'malformed',
      kid,
      `its claims are malformed (${claims.error.issues[0]?.path.join('.')})`,
    );
  return claims.data;
}

/** What of organisation, site and (when given) licence key the licence does not name; empty when it matches. */
export function licenceMismatches(
  claims: OfflineLicenceClaims,
  expected: { orgId: string; siteId: string; licenceKey?: string | undefined },
): ('organisation' | 'site' | 'licence key')[] {
  const mismatches: ('organisation' | 'site' | 'licence key')[] = [];
  if (claims.org !== expected.orgId) mismatches.push('organisation');
  if (claims.site !== expected.siteId) mismatches.push('site');
  if (
    expected.licenceKey !== undefined &&
    !claims.licenceHashes.includes(licenceHash(expected.siteId, expected.licenceKey))
  )
    mismatches.push('licence key');
  return mismatches;
}
