/**
 * How the device's state remembers a secret (a pairing code, a licence key) it must recognise later without keeping
 * it: scrypt with a random per-value salt stored alongside (`scrypt1$<salt>$<hash>`, base64url). A pairing code has
 * about 40 bits: an unsalted SHA-256 of it falls to a brute force in seconds for whoever reads the state file;
 * scrypt makes each guess cost milliseconds and 16 MiB, and the salt rules out tables computed in advance.
 *
 * Values written by earlier versions (a bare hex SHA-256) are still recognised, so a device mid-pairing during an
 * upgrade keeps its pending request; the caller rewrites them in this form on the next match.
 */
import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';

const PREFIX = 'scrypt1';
// N=2^14, r=8: 16 MiB and tens of milliseconds on an edge board, computed once per pair/register run.
const PARAMS = { N: 16_384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const LEGACY_SHA256 = /^[0-9a-f]{64}$/;

const scrypt = (secret: string, salt: Buffer) => scryptSync(secret.normalize('NFC'), salt, 32, PARAMS);

export function secretDigest(secret: string): string {
  const salt = randomBytes(16);
  return `${PREFIX}$${salt.toString('base64url')}$${scrypt(secret, salt).toString('base64url')}`;
}

/** Whether `stored` (this module's form, or an earlier version's hex SHA-256) was made from `secret`. */
export function matchesSecretDigest(stored: unknown, secret: string): boolean {
  if (typeof stored !== 'string') return false;
  if (LEGACY_SHA256.test(stored)) return sameBytes(stored, createHash('sha256').update(secret).digest('hex'));
  const [prefix, salt, hash, ...rest] = stored.split('$');
  if (prefix !== PREFIX || !salt || !hash || rest.length > 0) return false;
  return sameBytes(hash, scrypt(secret, Buffer.from(salt, 'base64url')).toString('base64url'));
}

/** An earlier version's form: the caller replaces it once it matched. */
export const isLegacyDigest = (stored: unknown): boolean => typeof stored === 'string' && LEGACY_SHA256.test(stored);

function sameBytes(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
