/**
 * The air-gapped chain of trust (issue 15): the offline licence file is signed by the cloud's licence key, which
 * is built into this binary (`keys/licence-keys.json`), so nothing needs the internet; the licence names the site
 * server's own signing key, and only that key may sign this device's edge tokens. Algorithms are pinned (ES256),
 * never taken from a header.
 */
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import { z } from 'zod';
import builtInLicenceKeys from '../../../keys/licence-keys.json' with { type: 'json' };
import { LICENCE_JWS_TYPE, LICENCE_SIGNING_ALGORITHM, OfflineLicenceClaims, PublicJwk } from '../../protocol/index.js';
import { EdgeError } from '../errors.js';

const LicenceKeysFile = z.object({
  keys: z.array(z.object({ kid: z.string().min(1).max(128), jwk: PublicJwk })).min(1),
});

/** The cloud licence keys this binary trusts, as a key set for jose (each with its `kid`). */
export function trustedLicenceKeys(): JSONWebKeySet {
  const file = LicenceKeysFile.parse(builtInLicenceKeys);
  return { keys: file.keys.map(({ kid, jwk }) => ({ ...jwk, kid })) };
}

export interface LicenceExpectations {
  orgId: string;
  siteId: string;
  /** Checked at registration; a refresh re-checks only the signature, organisation and site. */
  licenceKey?: string;
}

/** Verifies the licence file's signature and that it names this organisation, site and licence key. */
export async function verifyOfflineLicence(
  licence: string,
  expect: LicenceExpectations,
  trusted: JSONWebKeySet = trustedLicenceKeys(),
): Promise<OfflineLicenceClaims> {
  let payload: unknown;
  try {
    const result = await jwtVerify(licence, createLocalJWKSet(trusted), {
      algorithms: [LICENCE_SIGNING_ALGORITHM],
      typ: LICENCE_JWS_TYPE,
    });
    payload = result.payload;
  } catch (error) {
    const code = (error as { code?: string }).code ?? (error as Error).message;
    throw new EdgeError(
      'TOKEN_REJECTED',
      `the site server's offline licence file is not signed by a Consystence licence key this device knows (${code}); nothing was saved. Ask the site admin to export the licence file again from the portal`,
    );
  }
  const claims = OfflineLicenceClaims.safeParse(payload);
  if (!claims.success)
    throw new EdgeError('TOKEN_REJECTED', "the site server's offline licence file is malformed; nothing was saved");
  const mismatches: string[] = [];
  if (claims.data.org !== expect.orgId) mismatches.push('organisation');
  if (claims.data.site !== expect.siteId) mismatches.push('site');
  if (expect.licenceKey !== undefined && !claims.data.licences.includes(expect.licenceKey))
    mismatches.push('licence key');
  if (mismatches.length)
    throw new EdgeError(
      'TOKEN_REJECTED',
      `the site server's offline licence file is for another ${mismatches.join(', ')}; nothing was saved. Ask the site admin for this site's licence file`,
    );
  return claims.data;
}

/** The key set that signs this device's tokens on an air-gapped site: the one key the licence names. */
export function siteKeySet(claims: OfflineLicenceClaims): JSONWebKeySet {
  return { keys: [{ ...claims.siteServerKey, alg: LICENCE_SIGNING_ALGORITHM }] };
}
