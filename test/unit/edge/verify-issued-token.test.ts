/**
 * The refusal of a token that is not for this device names who issued it: the cloud, or (air-gapped) the site
 * server. Real ES256 keys and a real signed token; the checks are the device's own.
 */
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { verifyIssuedToken } from '../../../src/edge/cloud-client/verify-issued-token.js';
import { edgeTokenAudience, siteIssuer } from '../../../src/protocol/index.js';

const siteId = randomUUID();
const orgId = randomUUID();
const JKT = 'a'.repeat(43);

async function tokenFrom(issuer: string) {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const token = await new SignJWT({ edge: 'edge-1', site: siteId, org: orgId, hw: 'b'.repeat(64), cnf: { jkt: JKT } })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setIssuer(issuer)
    .setAudience(edgeTokenAudience(siteId))
    .setSubject(randomUUID())
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(privateKey);
  return { token, jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] } };
}

const expectations = (issuer: string) => ({
  issuer,
  siteId,
  orgId,
  edgeId: 'edge-1',
  hardwareId: 'c'.repeat(64),
  thumbprint: JKT,
  nowMs: Date.now(),
});

describe('verifyIssuedToken', () => {
  it.each([
    ['https://cloud.example', /^the cloud's token is not for this device \(hardware id differ\)/],
    [siteIssuer(siteId), /^the site server's token is not for this device \(hardware id differ\)/],
  ])('names the issuer %s when the token is for other hardware', async (issuer, message) => {
    const { token, jwks } = await tokenFrom(issuer);
    await expect(verifyIssuedToken(token, jwks, expectations(issuer))).rejects.toThrow(message);
  });
});
