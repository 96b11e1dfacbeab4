import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  LICENCE_JWS_TYPE,
  LicenceVerificationError,
  licenceHash,
  licenceKeySet,
  licenceMismatches,
  PublicJwk,
  verifyLicenceFile,
} from '../../../src/protocol/index.js';

const org = randomUUID();
const site = randomUUID();

async function licenceKey(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { privateKey, entry: { kid, jwk: PublicJwk.parse(await exportJWK(publicKey)) } };
}

async function licence(signer: CryptoKey, kid: string, overrides: { typ?: string; claims?: object } = {}) {
  const siteServerKey = { ...(await exportJWK((await generateKeyPair('ES256')).publicKey)), kid: 'site-1' };
  return new SignJWT({
    typ: 'offline-licence',
    iss: 'https://cloud.test',
    jti: randomUUID(),
    org,
    site,
    licenceHashes: [licenceHash(site, 'CST-EDGE-TEST-0000-0001')],
    siteServerKey,
    ...overrides.claims,
  })
    .setProtectedHeader({ alg: 'ES256', typ: overrides.typ ?? LICENCE_JWS_TYPE, kid })
    .setIssuedAt()
    .sign(signer);
}

const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => (error instanceof LicenceVerificationError ? error.reason : error),
  );

describe('verifyLicenceFile', () => {
  it('accepts a licence signed by a trusted licence key and returns its claims', async () => {
    const key = await licenceKey('lic-1');
    const claims = await verifyLicenceFile(
      await licence(key.privateKey, 'lic-1'),
      licenceKeySet({ keys: [key.entry] }),
    );
    expect(claims.org).toBe(org);
    expect(licenceMismatches(claims, { orgId: org, siteId: site, licenceKey: 'CST-EDGE-TEST-0000-0001' })).toEqual([]);
    expect(
      licenceMismatches(claims, { orgId: randomUUID(), siteId: site, licenceKey: 'CST-EDGE-TEST-0000-0002' }),
    ).toEqual(['organisation', 'licence key']);
  });

  it('refuses what is not a JWS, an unknown kid, a forged signature, another typ and malformed claims', async () => {
    const key = await licenceKey('lic-1');
    const other = await licenceKey('lic-1');
    const trusted = licenceKeySet({ keys: [key.entry] });
    expect(await refusal(verifyLicenceFile('not a jws', trusted))).toBe('not-a-jws');
    expect(await refusal(verifyLicenceFile(await licence(key.privateKey, 'lic-9'), trusted))).toBe('unknown-key');
    expect(await refusal(verifyLicenceFile(await licence(other.privateKey, 'lic-1'), trusted))).toBe('bad-signature');
    expect(await refusal(verifyLicenceFile(await licence(key.privateKey, 'lic-1', { typ: 'JWT' }), trusted))).toBe(
      'bad-signature',
    );
    expect(
      await refusal(verifyLicenceFile(await licence(key.privateKey, 'lic-1', { claims: { org: 'x' } }), trusted)),
    ).toBe('malformed');
  });
});
