/** Shared helpers for the mock cloud's tests: a device key, a device assertion, a register-edge body, a refusal. */
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { expect } from 'vitest';
import { MockCloudError } from '../../../src/mock/cloud/index.js';
import type { PublicJwk, RegisterEdgeRequest } from '../../../src/protocol/index.js';
import { testHardwareId } from '../../helpers/tmp.js';

export interface DeviceKey {
  privateKey: CryptoKey;
  publicJwk: PublicJwk;
  alg: 'ES256' | 'EdDSA';
}

export async function deviceKey(alg: 'ES256' | 'EdDSA' = 'ES256'): Promise<DeviceKey> {
  const pair = await generateKeyPair(alg, { extractable: true });
  const { kty, crv, x, y } = await exportJWK(pair.publicKey);
  const publicJwk = (kty === 'EC' ? { kty, crv, x, y } : { kty, crv, x }) as PublicJwk;
  return { privateKey: pair.privateKey, publicJwk, alg };
}

export function assertion(
  key: DeviceKey,
  edgeUuid: string,
  audience: string,
  overrides: { jti?: string; iat?: number; exp?: number } = {},
): Promise<string> {
  const iat = overrides.iat ?? Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: key.alg })
    .setIssuer(edgeUuid)
    .setSubject(edgeUuid)
    .setAudience(audience)
    .setIssuedAt(iat)
    .setExpirationTime(overrides.exp ?? iat + 120)
    .setJti(overrides.jti ?? randomUUID())
    .sign(key.privateKey);
}

export function edgeBody(key: DeviceKey, overrides: Partial<RegisterEdgeRequest> = {}): RegisterEdgeRequest {
  return {
    edgeId: 'orin-north-01',
    hardwareId: testHardwareId(),
    version: '1.0.0',
    hostname: 'orin-north-01',
    publicKey: key.publicJwk,
    ...overrides,
  };
}

export const demoSite = (slug = `site-${randomUUID().slice(0, 8)}`) => ({
  name: 'Mt Arthur Mine',
  slug,
  timezone: 'Australia/Sydney',
  location: { latitude: -32.35, longitude: 150.87, address: 'Mt Arthur Mine, Muswellbrook NSW' },
});

/** The client's refusal of a call that must fail (a success fails the test). */
export async function refused(promise: Promise<unknown>): Promise<MockCloudError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MockCloudError);
  return error as MockCloudError;
}
