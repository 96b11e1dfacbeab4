/**
 * Checks an edge token the cloud just issued, before anything is saved: signature against the cloud's JWKS
 * (algorithm pinned by `verifyEdgeToken`), `aud` = this site, `iss` = the cloud we asked, and that every claim
 * is about us: edge id, edge uuid, org, hardware id, and `cnf.jkt` = our own key's thumbprint.
 */
import type { JSONWebKeySet } from 'jose';
import {
  SITE_ISSUER_PREFIX,
  TokenVerificationError,
  verifyEdgeToken,
  type EdgeTokenClaims,
} from '../../protocol/index.js';
import { EdgeError } from '../errors.js';

export interface TokenExpectations {
  /** The expected `iss`: the cloud's URL, or `site:{siteId}` for a site-issued token; undefined: learnt from it. */
  issuer: string | undefined;
  siteId: string;
  orgId: string;
  edgeId: string;
  edgeUuid?: string;
  hardwareId: string;
  thumbprint: string;
  nowMs: number;
}

export async function verifyIssuedToken(
  token: string,
  jwks: JSONWebKeySet,
  expect: TokenExpectations,
): Promise<EdgeTokenClaims> {
  // A site-issued token (air-gapped) is the site server's: say so, the technician never talked to the cloud.
  const issuedBy = expect.issuer?.startsWith(SITE_ISSUER_PREFIX) ? "the site server's" : "the cloud's";
  let claims: EdgeTokenClaims;
  try {
    claims = await verifyEdgeToken(token, jwks, expect.siteId, {
      ...(expect.issuer !== undefined ? { issuer: expect.issuer } : {}),
      currentDate: new Date(expect.nowMs),
      clockToleranceSeconds: 60,
    });
  } catch (error) {
    const reason = error instanceof TokenVerificationError ? error.message : 'the token could not be checked';
    throw new EdgeError(
      'TOKEN_REJECTED',
      `${issuedBy} token failed verification (${reason}); nothing was saved. Check the device clock and that the ${issuedBy === "the cloud's" ? 'pairing URI points at the right cloud' : 'site server is the one for this site'}`,
    );
  }
  const mismatches: string[] = [];
  if (claims.edge !== expect.edgeId) mismatches.push('edge id');
  if (claims.org !== expect.orgId) mismatches.push('organisation');
  if (claims.hw !== expect.hardwareId) mismatches.push('hardware id');
  if (claims.cnf.jkt !== expect.thumbprint) mismatches.push('device key');
  if (expect.edgeUuid !== undefined && claims.sub !== expect.edgeUuid) mismatches.push('edge uuid');
  if (mismatches.length) {
    throw new EdgeError(
      'TOKEN_REJECTED',
      `${issuedBy} token is not for this device (${mismatches.join(', ')} differ); nothing was saved`,
    );
  }
  return claims;
}
