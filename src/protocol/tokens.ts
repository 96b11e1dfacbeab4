/**
 * JWT claim sets (CONTRACT §1, §3). The cloud signs every token with ES256; verifiers pin that algorithm and
 * never trust the header's `alg`. Devices sign their refresh assertions with their own key (ES256 or EdDSA,
 * pinned by the registered key's type).
 */
import { z } from 'zod';
import { EdgeId, HardwareId, Role, Slug, Uuid } from './common.js';

export const CLOUD_SIGNING_ALGORITHM = 'ES256' as const;
export const ACCESS_TOKEN_AUDIENCE = 'consystence-api';
export const SITE_TOKEN_AUDIENCE = 'consystence-cloud';
export const edgeTokenAudience = (siteId: string) => `consystence-site:${siteId}`;
/** Device assertions may live at most this long (CONTRACT §3). */
export const MAX_ASSERTION_LIFETIME_SECONDS = 300;

const Times = { iat: z.number().int(), exp: z.number().int() };

export const AccessTokenClaims = z.object({
  sub: Uuid,
  email: z.email(),
  org: Uuid.nullable(),
  org_slug: Slug.nullable(),
  org_role: Role.nullable(),
  orgs: z.array(z.object({ id: Uuid, slug: Slug, role: Role })),
  platform_admin: z.boolean(),
  iss: z.string(),
  aud: z.literal(ACCESS_TOKEN_AUDIENCE),
  ...Times,
});
export type AccessTokenClaims = z.infer<typeof AccessTokenClaims>;

export const EdgeTokenClaims = z.object({
  iss: z.string(),
  aud: z.string().startsWith('consystence-site:'),
  sub: Uuid,
  edge: EdgeId,
  site: Uuid,
  org: Uuid,
  hw: HardwareId,
  cnf: z.object({ jkt: z.string().regex(/^[A-Za-z0-9_-]{43}$/) }),
  /** base64url SHA-256 of the site connection the cloud sent with this token (`siteConnectionHash`). */
  cfg: z
    .string()
    .regex(/^[A-Za-z0-9_-]{43}$/)
    .optional(),
  jti: z.string().min(1).max(128),
  ...Times,
});
export type EdgeTokenClaims = z.infer<typeof EdgeTokenClaims>;

export const SiteTokenClaims = z.object({
  iss: z.string(),
  aud: z.literal(SITE_TOKEN_AUDIENCE),
  sub: Uuid, // the site id
  org: Uuid,
  typ: z.literal('site'),
  jti: z.string().min(1).max(128),
  ...Times,
});
export type SiteTokenClaims = z.infer<typeof SiteTokenClaims>;

/** The device-key assertion that buys a new edge token: iss = sub = edge uuid, aud = the refresh URL. */
export const DeviceAssertionClaims = z
  .object({
    iss: Uuid,
    sub: Uuid,
    aud: z.string().url(),
    jti: z.string().min(16).max(128),
    iat: z.number().int(),
    exp: z.number().int(),
  })
  .refine((c) => c.iss === c.sub, 'iss must equal sub')
  .refine(
    (c) => c.exp - c.iat <= MAX_ASSERTION_LIFETIME_SECONDS,
    `exp at most ${MAX_ASSERTION_LIFETIME_SECONDS} s after iat`,
  );
export type DeviceAssertionClaims = z.infer<typeof DeviceAssertionClaims>;
