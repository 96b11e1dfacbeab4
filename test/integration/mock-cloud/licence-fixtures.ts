/** Helpers for the licence tests: a site server's signing key, the device's built-in licence keys, refusals. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, jwtVerify, type CryptoKey } from 'jose';
import { expect } from 'vitest';
import { MockCloudError } from '../../../src/mock/cloud/index.js';
import {
  LICENCE_JWS_TYPE,
  LICENCE_SIGNING_ALGORITHM,
  OfflineLicenceClaims,
  type SiteSigningKey,
} from '../../../src/protocol/index.js';
import { ROOT } from '../../helpers/process.js';

export async function refused(promise: Promise<unknown>): Promise<MockCloudError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MockCloudError);
  return error as MockCloudError;
}

/** A site server's token-signing key as register-server carries it: EC P-256 public, with its thumbprint as kid. */
export async function siteSigningKey(): Promise<{ publicJwk: SiteSigningKey; privateKey: CryptoKey }> {
  const pair = await generateKeyPair('ES256', { extractable: true });
  const { kty, crv, x, y } = await exportJWK(pair.publicKey);
  const jwk = { kty, crv, x, y } as { kty: 'EC'; crv: 'P-256'; x: string; y: string };
  return { publicJwk: { ...jwk, kid: await calculateJwkThumbprint(jwk) }, privateKey: pair.privateKey };
}

/** Verifies an offline licence file as the device does: with a key of `keys/licence-keys.json`, alg and typ pinned. */
export async function verifyWithBuiltInKeys(licenceFile: string): Promise<OfflineLicenceClaims> {
  const { keys } = JSON.parse(readFileSync(resolve(ROOT, 'keys/licence-keys.json'), 'utf8')) as {
    keys: Array<{ kid: string; jwk: Record<string, string> }>;
  };
  const { payload, protectedHeader } = await jwtVerify(
    licenceFile,
    async (header) => {
      const entry = keys.find((k) => k.kid === header.kid);
      if (!entry) throw new Error(`no built-in licence key ${header.kid}`);
      return (await importJWK(entry.jwk, LICENCE_SIGNING_ALGORITHM)) as CryptoKey;
    },
    { algorithms: [LICENCE_SIGNING_ALGORITHM], typ: LICENCE_JWS_TYPE },
  );
  expect(protectedHeader.kid).toBe(keys[0]!.kid);
  return OfflineLicenceClaims.parse(payload);
}
