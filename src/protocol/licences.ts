/**
 * Registration through the site server with a licence key (issue 15), connected or air-gapped.
 *
 * Connected: the edge posts to the site server's edge-facing HTTPS API, which forwards to the cloud's
 * register-edge with its site token; the edge verifies the cloud-signed token against the cloud's key set, relayed
 * by the site server it pinned by fingerprint. Air-gapped: the site server checks the key against an offline
 * licence file (signed by the cloud's licence key, naming the site server's own signing key), binds it, and issues
 * the edge token itself; the edge verifies the chain with the cloud licence key built into its binary.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { EdgeId, HardwareId, IsoDateTime, LicenceKey, PublicJwk, Uuid } from './common.js';
import { RegisterEdgeRequest, RegisterEdgeResponse } from './cloud-api.js';
import { Jwks } from './verify.js';

/** The cloud signs offline licence files with ES256 under its long-lived licence key (never the token keys). */
export const LICENCE_SIGNING_ALGORITHM = 'ES256' as const;
export const LICENCE_JWS_TYPE = 'consystence-licence+jws';
/** Site-issued edge tokens: ES256 by the key the licence file names; `iss` is `site:{siteId}`. */
export const SITE_ISSUER_PREFIX = 'site:';
export const siteIssuer = (siteId: string) => `${SITE_ISSUER_PREFIX}${siteId}`;

/**
 * A site server's identity as technicians compare it: `sha256:` and the lowercase hex SHA-256 of the DER
 * SubjectPublicKeyInfo of its edge-facing certificate (the key, not the certificate, so a renewed certificate
 * for the same key keeps the fingerprint).
 */
export const SiteFingerprint = z
  .string()
  .transform((s) => s.trim().toLowerCase().replace(/:/g, ''))
  .pipe(z.string().regex(/^sha256[0-9a-f]{64}$/, 'a fingerprint such as sha256:3f1a…(64 hex digits)'))
  .transform((s) => `sha256:${s.slice(6)}`);
export type SiteFingerprint = z.infer<typeof SiteFingerprint>;

// ---------------------------------------------------------------------------------------------------------------
// The site server's edge-facing API (routes in routes.ts, SITE_EDGE_ROUTES)

/** `GET identity`: what the site server says about itself, public (the fingerprint is checked on the socket). */
export const SiteIdentity = z.object({
  fingerprint: SiteFingerprint,
  siteId: Uuid,
  orgId: Uuid,
  mode: z.enum(['connected', 'air-gapped']),
});
export type SiteIdentity = z.infer<typeof SiteIdentity>;

/** `POST register`: register-edge's body with the licence key required; `Idempotency-Key` as for the cloud. */
export const SiteRegisterRequest = RegisterEdgeRequest.extend({ licenceKey: LicenceKey });
export type SiteRegisterRequest = z.infer<typeof SiteRegisterRequest>;

/** The largest offline licence file (compact JWS) any party accepts: about 7 000 licence keys. */
export const MAX_LICENCE_FILE_CHARS = 262_144;

export const SiteRegisterResponse = RegisterEdgeResponse.extend({
  /** `cloud`: the token is the cloud's, verify with `jwks`. `site`: air-gapped, verify through `licence`. */
  issuer: z.enum(['cloud', 'site']),
  /** The cloud's key set as the site server holds it (connected mode). */
  jwks: Jwks.optional(),
  /** The offline licence file (compact JWS) whose `siteServerKey` signed the token (air-gapped mode). */
  licence: z.string().min(1).max(MAX_LICENCE_FILE_CHARS).optional(),
});
export type SiteRegisterResponse = z.infer<typeof SiteRegisterResponse>;

// ---------------------------------------------------------------------------------------------------------------
// Offline licence file

/**
 * How an offline licence file names a licence key: base64url SHA-256 of `"{siteId}:{key}"`. The file reaches every
 * device the site server registers, so it must not hold keys a device could read and burn; the site id in the hash
 * makes it useless at another site.
 */
export const licenceHash = (siteId: string, licenceKey: string) =>
  createHash('sha256').update(`${siteId}:${licenceKey}`).digest('base64url');
export const LicenceHash = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'a base64url SHA-256');

/** The payload of an offline licence file. No `exp`: a board without a clock must still verify it. */
export const OfflineLicenceClaims = z.object({
  typ: z.literal('offline-licence'),
  iss: z.string().min(1).max(2048),
  jti: Uuid,
  org: Uuid,
  site: Uuid,
  /** The licence keys this site may activate, each as `licenceHash(site, key)`: never the keys themselves. */
  licenceHashes: z.array(LicenceHash).min(1).max(10_000),
  /** The site server's public signing key (with `kid`), from register-server: it signs site-issued edge tokens. */
  siteServerKey: PublicJwk,
  iat: z.number().int(),
});
export type OfflineLicenceClaims = z.infer<typeof OfflineLicenceClaims>;

export const OfflineLicenceRequest = z.strictObject({
  /** Default: every licence of the organisation that is not bound yet. */
  licenceKeys: z.array(LicenceKey).min(1).max(10_000).optional(),
});
export type OfflineLicenceRequest = z.infer<typeof OfflineLicenceRequest>;
export const OfflineLicenceResponse = z.object({ licenceFile: z.string(), licences: z.number().int() });
export type OfflineLicenceResponse = z.infer<typeof OfflineLicenceResponse>;

// ---------------------------------------------------------------------------------------------------------------
// Licences in the cloud

export const LicenceBinding = z.object({
  edgeId: EdgeId,
  siteId: Uuid,
  hardwareId: HardwareId,
  boundAt: IsoDateTime,
  /** `cloud`: bound by register-edge; `site`: bound offline by a site server and reported afterwards. */
  via: z.enum(['cloud', 'site']),
});
export const LicenceView = z.object({
  key: LicenceKey,
  binding: LicenceBinding.nullable(),
  /** Bindings reported for this key that disagree with `binding` (another device or site): for an admin to settle. */
  conflicts: z.array(LicenceBinding),
});
export type LicenceView = z.infer<typeof LicenceView>;
export const LicenceListResponse = z.object({ licences: z.array(LicenceView) });
export type LicenceListResponse = z.infer<typeof LicenceListResponse>;

/**
 * Bindings per report: 100 of the largest allowed fit the 64 KiB request cap (`MAX_REQUEST_BYTES`); a site server
 * with more sends several reports.
 */
export const MAX_BINDINGS_PER_REPORT = 100;

/** What a site server that bound licences offline reports once the cloud is reachable (site token). */
export const LicenceBindingReport = z.strictObject({
  bindings: z
    .array(
      z.strictObject({
        licenceKey: LicenceKey,
        edgeId: EdgeId,
        edgeUuid: Uuid,
        hardwareId: HardwareId,
        publicKey: PublicJwk,
        boundAt: IsoDateTime,
      }),
    )
    .min(1)
    .max(MAX_BINDINGS_PER_REPORT),
});
export type LicenceBindingReport = z.infer<typeof LicenceBindingReport>;
export const LicenceBindingReportResponse = z.object({
  results: z.array(
    z.object({
      licenceKey: LicenceKey,
      /** `recorded` (new), `known` (already recorded, same device), `conflict` (bound elsewhere: kept for admins). */
      status: z.enum(['recorded', 'known', 'conflict']),
    }),
  ),
});
export type LicenceBindingReportResponse = z.infer<typeof LicenceBindingReportResponse>;
