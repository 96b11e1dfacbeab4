/**
 * The device key: ES256 (P-256), generated on the device at first boot and never leaving it. The cloud binds
 * edge tokens to its thumbprint (`cnf.jkt`) and accepts refresh assertions signed with it.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose';
import { randomUUID } from 'node:crypto';
import { PublicJwk } from '../../protocol/index.js';
import type { IdentityStore, StoredIdentity } from '../stores/identity-store.js';

export const DEVICE_KEY_ALG = 'ES256' as const;

export async function generateIdentity(now: Date): Promise<StoredIdentity> {
  const { privateKey, publicKey } = await generateKeyPair(DEVICE_KEY_ALG, { extractable: true });
  const priv = await exportJWK(privateKey);
  const pubFull = await exportJWK(publicKey);
  const publicJwk = PublicJwk.parse({ kty: pubFull.kty, crv: pubFull.crv, x: pubFull.x, y: pubFull.y });
  const thumbprint = await calculateJwkThumbprint(publicJwk, 'sha256');
  return {
    privateJwk: { kty: 'EC', crv: 'P-256', x: String(priv.x), y: String(priv.y), d: String(priv.d) },
    publicJwk,
    thumbprint,
    createdAt: now.toISOString(),
  };
}

/** Returns the stored identity, creating one on first use. */
export async function ensureIdentity(store: IdentityStore, now: Date): Promise<StoredIdentity> {
  const existing = store.get();
  if (existing) return existing;
  store.insertIfAbsent(await generateIdentity(now));
  return store.get()!;
}

/**
 * The refresh assertion (CONTRACT §3): iss = sub = edge uuid, aud = the exact refresh URL, short-lived, unique
 * jti. `nowMs` is the corrected clock, so a board stuck in 1970 still signs a time the cloud accepts.
 */
export async function signAssertion(
  identity: StoredIdentity,
  claims: { edgeUuid: string; audience: string; nowMs: number; lifetimeSeconds?: number },
): Promise<string> {
  const key = await importJWK({ ...identity.privateJwk, alg: DEVICE_KEY_ALG }, DEVICE_KEY_ALG);
  const iat = Math.floor(claims.nowMs / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: DEVICE_KEY_ALG, typ: 'JWT' })
    .setIssuer(claims.edgeUuid)
    .setSubject(claims.edgeUuid)
    .setAudience(claims.audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + Math.min(claims.lifetimeSeconds ?? 120, 300))
    .setJti(randomUUID())
    .sign(key);
}
