/**
 * The cloud's ES256 signing key: generated at first start and kept in the database (with `--db`, on disk), so
 * a restarted mock keeps verifying the tokens it issued. Only the public half is ever published.
 */
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type CryptoKey,
  type JSONWebKeySet,
  type JWK,
} from 'jose';
import { CLOUD_SIGNING_ALGORITHM } from '../../protocol/index.js';
import type { Db } from '../../storage/index.js';
import { loadSigningKey, saveSigningKey } from './store/signing-keys.js';

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** The published form: public members only, with `kid`, `alg` and `use`. */
  publicJwk: JWK;
}

export async function loadOrCreateSigningKey(db: Db, nowIso: string): Promise<SigningKey> {
  const stored = loadSigningKey(db);
  if (stored) {
    const privateKey = (await importJWK(JSON.parse(stored.privateJwk) as JWK, CLOUD_SIGNING_ALGORITHM)) as CryptoKey;
    const publicJwk = JSON.parse(stored.publicJwk) as JWK;
    const publicKey = (await importJWK(publicJwk, CLOUD_SIGNING_ALGORITHM)) as CryptoKey;
    return { kid: stored.kid, privateKey, publicKey, publicJwk };
  }
  const pair = await generateKeyPair(CLOUD_SIGNING_ALGORITHM, { extractable: true });
  const { kty, crv, x, y } = await exportJWK(pair.publicKey);
  const kid = await calculateJwkThumbprint({ kty, crv, x, y } as JWK);
  const publicJwk: JWK = { kty, crv, x, y, kid, alg: CLOUD_SIGNING_ALGORITHM, use: 'sig' };
  saveSigningKey(
    db,
    { kid, privateJwk: JSON.stringify(await exportJWK(pair.privateKey)), publicJwk: JSON.stringify(publicJwk) },
    nowIso,
  );
  return { kid, privateKey: pair.privateKey, publicKey: pair.publicKey, publicJwk };
}

export function jwksOf(key: SigningKey): JSONWebKeySet {
  return { keys: [key.publicJwk] };
}
