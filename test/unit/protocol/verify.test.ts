import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { edgeTokenAudience, verifyEdgeToken } from '../../../src/protocol/index.js';

const site = 'f6a7b8c9-0d1e-4f3a-8b5c-6d7e8f9a0b1c';
const claims = {
  sub: '0b6f3e8a-1c2d-4e5f-8a9b-0c1d2e3f4a5b',
  edge: 'orin-01',
  site,
  org: 'd4e5f6a7-8b9c-4d1e-8f3a-4b5c6d7e8f9a',
  hw: 'a'.repeat(64),
  cnf: { jkt: 'A'.repeat(43) },
  jti: 'j1',
};

async function cloudKey() {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
  return { privateKey, jwks: { keys: [jwk] } };
}

const sign = (key: CryptoKey, overrides: { aud?: string; exp?: string; alg?: string; site?: string } = {}) =>
  new SignJWT({ ...claims, site: overrides.site ?? site })
    .setProtectedHeader({ alg: overrides.alg ?? 'ES256', kid: 'k1' })
    .setIssuer('https://cloud.test')
    .setAudience(overrides.aud ?? edgeTokenAudience(site))
    .setIssuedAt()
    .setExpirationTime(overrides.exp ?? '1h')
    .sign(key);

describe('verifyEdgeToken', () => {
  it('accepts a token signed by the published key', async () => {
    const { privateKey, jwks } = await cloudKey();
    const verified = await verifyEdgeToken(await sign(privateKey), jwks, site, { issuer: 'https://cloud.test' });
    expect(verified.edge).toBe('orin-01');
  });

  it('refuses alg:none, a foreign key, a wrong audience, another site, a wrong issuer and an expired token', async () => {
    const { privateKey, jwks } = await cloudKey();
    const foreign = await cloudKey();
    const unsigned = new UnsecuredJWT({ ...claims })
      .setAudience(edgeTokenAudience(site))
      .setIssuer('https://cloud.test')
      .setExpirationTime('1h')
      .encode();
    const cases = [
      unsigned,
      await sign(foreign.privateKey),
      await sign(privateKey, { aud: 'consystence-api' }),
      await sign(privateKey, { aud: edgeTokenAudience('00000000-0000-4000-8000-000000000000') }),
    ];
    for (const token of cases)
      await expect(verifyEdgeToken(token, jwks, site, { issuer: 'https://cloud.test' })).rejects.toMatchObject({
        reason: 'invalid',
      });
    await expect(
      verifyEdgeToken(await sign(privateKey), jwks, site, { issuer: 'https://evil.test' }),
    ).rejects.toMatchObject({ reason: 'invalid' });
    const expired = await sign(privateKey, { exp: '-2 minutes' });
    await expect(verifyEdgeToken(expired, jwks, site)).rejects.toMatchObject({ reason: 'expired' });
    // 60 s of leeway at the site server does not rescue a token 2 minutes past its expiry
    await expect(verifyEdgeToken(expired, jwks, site, { clockToleranceSeconds: 60 })).rejects.toMatchObject({
      reason: 'expired',
    });
  });

  it('judges expiry by the corrected clock it is given', async () => {
    const { privateKey, jwks } = await cloudKey();
    const token = await sign(privateKey, { exp: '1h' });
    await expect(
      verifyEdgeToken(token, jwks, site, { currentDate: new Date(Date.now() + 2 * 3600_000) }),
    ).rejects.toMatchObject({ reason: 'expired' });
  });
});
