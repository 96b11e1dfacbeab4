/**
 * The air-gapped chain of trust (issue 15): the offline licence file is signed by the cloud's licence key, which
 * is built into this binary (`keys/licence-keys.json`), so nothing needs the internet; the licence names the site
 * server's own signing key, and only that key may sign this device's edge tokens. Algorithms are pinned (ES256),
 * never taken from a header.
 */
import type { JSONWebKeySet } from 'jose';
import builtInLicenceKeys from '../../../keys/licence-keys.json' with { type: 'json' };
import {
  LICENCE_SIGNING_ALGORITHM,
  LicenceKeyList,
  LicenceVerificationError,
  licenceKeySet,
  licenceMismatches,
  type OfflineLicenceClaims,
  verifyLicenceFile,
} from '../../protocol/index.js';
import { EdgeError } from '../errors.js';

/** The cloud licence keys this binary trusts, as a key set for jose (each with its `kid`). */
export function trustedLicenceKeys(): JSONWebKeySet {
  return licenceKeySet(LicenceKeyList.parse(builtInLicenceKeys));
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
  let claims: OfflineLicenceClaims;
  try {
    claims = await verifyLicenceFile(licence, trusted);
  } catch (error) {
    if (!(error instanceof LicenceVerificationError)) throw error;
    if (error.reason === 'malformed')
      throw new EdgeError('TOKEN_REJECTED', "the site server's offline licence file is malformed; nothing was saved");
    throw new EdgeError(
      'TOKEN_REJECTED',
      `the site server's offline licence file is not signed by a Consystence licence key this device knows (${error.message}); nothing was saved. Ask the site admin to export the licence file again from the portal`,
    );
  }
  const mismatches = licenceMismatches(claims, expect);
  if (mismatches.length)
    throw new EdgeError(
      'TOKEN_REJECTED',
      `the site server's offline licence file is for another ${mismatches.join(', ')}; nothing was saved. Ask the site admin for this site's licence file`,
    );
  return claims;
}

/** The key set that signs this device's tokens on an air-gapped site: the one key the licence names. */
export function siteKeySet(claims: OfflineLicenceClaims): JSONWebKeySet {
  return { keys: [{ ...claims.siteServerKey, alg: LICENCE_SIGNING_ALGORITHM }] };
}
