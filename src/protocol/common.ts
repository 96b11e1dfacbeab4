/**
 * Field types shared by every message of the contract. Each is declared once here and reused by the HTTP,
 * token and MQTT schemas, so a rule (what a slug or an edge id may be) cannot drift between the parties.
 */
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { z } from 'zod';

/**
 * Ids are canonical lowercase GUIDs. Not `z.uuid()`: zod 4 enforces RFC 9562 version/variant nibbles, and the
 * platform's own documented ids (e.g. `f6a7b8c9-0d1e-2f3a-…`) do not carry them. Lowercase only, because ids
 * become MQTT topic levels, where case matters.
 */
export const Uuid = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'a lowercase UUID');

/** Organisation and site slugs: DNS-label shaped, so `{slug}.consystence.site` is always a valid host name. */
export const Slug = z
  .string()
  .regex(
    /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/,
    'lowercase letters, digits and dashes, 1-63 characters, not starting or ending with a dash',
  );

/** Edge ids appear in MQTT topics and client ids: no wildcard, slash or upper case can ever reach a topic. */
export const EdgeId = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9-]{0,62}$/,
    'lowercase letters, digits and dashes, 1-63 characters, starting with a letter or digit',
  );

/** Hex SHA-256 of the machine id. */
export const HardwareId = z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex SHA-256 (64 characters)');

export const Version = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[0-9A-Za-z.+_-]+$/, 'a version such as 1.2.3');

export const Hostname = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/, 'a host name');

export const IsoDateTime = z.iso.datetime({ offset: true });

/** A real IANA zone: `Intl` knows the tz database, so no hand-kept list is needed. */
export const IanaTimezone = z
  .string()
  .min(1)
  .max(64)
  .refine((zone) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: zone });
      return true;
    } catch {
      return false;
    }
  }, 'an IANA time zone such as Australia/Sydney');

export const Location = z.strictObject({
  latitude: z.number().min(-90).max(90),
  longitude: z.number().min(-180).max(180),
  address: z.string().max(500).optional(),
});

export const Roles = ['owner', 'admin', 'engineer', 'operator', 'viewer'] as const;
export const Role = z.enum(Roles);
export type Role = z.infer<typeof Role>;

/** Roles are ordered: each includes those below it. */
export function roleAtLeast(role: Role, minimum: Role): boolean {
  return Roles.indexOf(role) <= Roles.indexOf(minimum);
}

/** True when node:crypto can import the key: for EC, the point must lie on the curve (a check jose also makes). */
function isImportablePublicKey(jwk: Record<string, unknown>): boolean {
  try {
    createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    return true;
  } catch {
    return false;
  }
}

/**
 * A device's public key as a JWK: EC P-256 or OKP Ed25519. A private member (`d`) is refused outright, and so is an
 * EC point that is not on the curve (it would be stored, then fail every later verification).
 */
export const PublicJwk = z
  .discriminatedUnion('kty', [
    z.strictObject({
      kty: z.literal('EC'),
      crv: z.literal('P-256'),
      x: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
      y: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
      kid: z.string().max(128).optional(),
      alg: z.literal('ES256').optional(),
      use: z.literal('sig').optional(),
    }),
    z.strictObject({
      kty: z.literal('OKP'),
      crv: z.literal('Ed25519'),
      x: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
      kid: z.string().max(128).optional(),
      alg: z.literal('EdDSA').optional(),
      use: z.literal('sig').optional(),
    }),
  ])
  .refine(isImportablePublicKey, { message: 'not a valid public key (for EC: the point is not on P-256)' });
export type PublicJwk = z.infer<typeof PublicJwk>;

/** The signature algorithm that goes with a device key: pinned by key type, never taken from a token header. */
export function algorithmForJwk(jwk: PublicJwk): 'ES256' | 'EdDSA' {
  return jwk.kty === 'EC' ? 'ES256' : 'EdDSA';
}

export const LicenceKey = z
  .string()
  .regex(/^CST-EDGE-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/, 'a licence key such as CST-EDGE-AB12-CD34-EF56');
