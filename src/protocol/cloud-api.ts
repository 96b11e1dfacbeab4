/**
 * HTTP bodies of the cloud's Platform API (CONTRACT §1-3). Requests are strict objects: an unknown field is a
 * 400, not silently ignored. Responses are parsed by clients with the same schemas.
 */
import { z } from 'zod';
import {
  EdgeId,
  HardwareId,
  Hostname,
  IanaTimezone,
  IsoDateTime,
  LicenceKey,
  Location,
  PublicJwk,
  Role,
  Slug,
  Uuid,
  Version,
} from './common.js';
import { CaBundlePem, HttpUrl, MqttUrl, SiteConnection } from './site-connection.js';

export const listOf = <T extends z.ZodType>(item: T) => z.object({ data: z.array(item) });

// ---- auth -------------------------------------------------------------------------------------------------
export const LoginRequest = z.strictObject({ email: z.email().max(320), password: z.string().min(1).max(1024) });
export const LoginResponse = z.object({
  accessToken: z.string(),
  refreshToken: z.string(),
  expiresIn: z.number().int().positive(),
  tokenType: z.literal('Bearer'),
});
export type LoginResponse = z.infer<typeof LoginResponse>;

// ---- organisations ----------------------------------------------------------------------------------------
export const CreateOrganisationRequest = z.strictObject({
  name: z.string().trim().min(1).max(200),
  slug: Slug,
  timezone: IanaTimezone.optional(),
});
export const Organisation = z.object({
  id: Uuid,
  name: z.string(),
  slug: Slug,
  timezone: z.string(),
  role: Role.optional(),
  createdAt: IsoDateTime,
});
export type Organisation = z.infer<typeof Organisation>;

// ---- sites (the seed's Site API) --------------------------------------------------------------------------
export const SiteStatus = z.enum(['provisioning', 'online', 'offline']);
export const CreateSiteRequest = z.strictObject({
  name: z.string().trim().min(1).max(200),
  slug: Slug,
  timezone: IanaTimezone,
  location: Location.optional(),
});
/** PUT changes only metadata: name, timezone, location. Anything else is an unknown field. */
export const UpdateSiteRequest = z
  .strictObject({
    name: z.string().trim().min(1).max(200).optional(),
    timezone: IanaTimezone.optional(),
    location: Location.optional(),
  })
  .refine((body) => Object.keys(body).length > 0, 'at least one of name, timezone, location');

export const EdgeStatus = z.enum(['active', 'revoked']);
export const EdgeSummary = z.object({
  id: Uuid,
  edgeId: EdgeId,
  hardwareId: HardwareId,
  version: z.string(),
  status: EdgeStatus,
  registeredAt: IsoDateTime,
  revokedAt: IsoDateTime.optional(),
});
export type EdgeSummary = z.infer<typeof EdgeSummary>;

export const Site = z.object({
  id: Uuid,
  name: z.string(),
  slug: Slug,
  url: z.string(),
  timezone: z.string(),
  location: Location.optional(),
  orgId: Uuid,
  status: SiteStatus,
  createdAt: IsoDateTime,
});
export type Site = z.infer<typeof Site>;
export const SiteListItem = z.object({
  id: Uuid,
  name: z.string(),
  slug: Slug,
  url: z.string(),
  status: SiteStatus,
  deviceCount: z.number().int().nonnegative(),
  processCount: z.number().int().nonnegative(),
});
export const SiteDetail = Site.extend({
  server: z
    .object({
      hardwareId: HardwareId.or(z.string()),
      version: z.string(),
      hostname: z.string(),
      registeredAt: IsoDateTime,
    })
    .nullable(),
  edges: z.array(EdgeSummary),
  deviceCount: z.number().int().nonnegative(),
  processCount: z.number().int().nonnegative(),
});

// ---- site server registration -----------------------------------------------------------------------------
/** A site server's token-signing key: EC P-256 (ES256, as the cloud signs) and a `kid` the token headers name. */
export const SiteSigningKey = PublicJwk.refine((jwk) => jwk.kty === 'EC' && jwk.kid !== undefined, {
  message: 'an EC P-256 public key with a kid',
});
export type SiteSigningKey = z.infer<typeof SiteSigningKey>;

export const RegisterServerRequest = z.strictObject({
  hardwareId: z.string().min(1).max(128),
  version: Version,
  hostname: Hostname,
  /**
   * Our extension: where edges must reach the server. Without it the cloud derives them from `hostname`.
   * `caCertificatePem`: the CA that signed the server's certificate; the cloud hands it to edges at pairing
   * (`config.siteServer.mqtt.caCertificatePem`) so they trust only it for mqtts. It may be a bundle of up to
   * four certificates: during a CA rotation the old and the new CA, until the old one is withdrawn.
   */
  endpoints: z
    .strictObject({
      api: HttpUrl,
      mqtt: MqttUrl,
      caCertificatePem: CaBundlePem.optional(),
    })
    .optional(),
  /**
   * Our extension (issue 15): the site server's public ES256 key, with `kid`. It signs the edge tokens the server
   * issues on an air-gapped site; the cloud stores it and names it in the site's offline licence files.
   */
  signingKey: SiteSigningKey.optional(),
});
export const RegisterServerResponse = z.object({
  siteToken: z.string(),
  config: z.object({ orgId: Uuid, siteId: Uuid, clusteringMode: z.string() }),
});
export type RegisterServerResponse = z.infer<typeof RegisterServerResponse>;

// ---- pairing ------------------------------------------------------------------------------------------------
/**
 * What a pairing code may register: an edge (engineer+ may mint it) or a site server (admin+ only, since a site
 * server decides where every edge of the site connects). An edge code never registers a server.
 */
export const PairingCodePurpose = z.enum(['edge', 'server']);
export type PairingCodePurpose = z.infer<typeof PairingCodePurpose>;
export const CreatePairingCodeRequest = z
  .strictObject({
    purpose: PairingCodePurpose.optional(),
    edgeId: EdgeId.optional(),
    ttlSeconds: z.number().int().min(60).max(86_400).optional(),
  })
  .refine((body) => !(body.purpose === 'server' && body.edgeId), {
    path: ['edgeId'],
    message: 'a site-server code cannot name an edge',
  });
export const PairingCodeResponse = z.object({
  code: z.string(),
  expiresAt: IsoDateTime,
  pairingUri: z.string(),
  purpose: PairingCodePurpose.optional(),
});
export type PairingCodeResponse = z.infer<typeof PairingCodeResponse>;

export const RegisterEdgeRequest = z.strictObject({
  edgeId: EdgeId,
  hardwareId: HardwareId,
  version: Version,
  hostname: Hostname,
  publicKey: PublicJwk,
  licenceKey: LicenceKey.optional(),
});
export type RegisterEdgeRequest = z.infer<typeof RegisterEdgeRequest>;

export const BufferConfig = z.strictObject({
  retentionDays: z.number().int().min(1).max(3650),
  maxSizeMb: z.number().int().min(1).max(1_048_576),
});
export type BufferConfig = z.infer<typeof BufferConfig>;

export const MqttConfig = z.object({
  url: MqttUrl,
  topicPrefix: z.string().regex(/^consystence\/v1\/sites\/[0-9a-f-]{36}\/edges\/[a-z0-9][a-z0-9-]{0,62}$/),
  keepaliveSeconds: z.number().int().min(5).max(3600),
  caCertificatePem: z.string().max(65_536).optional(),
});
export type MqttConfig = z.infer<typeof MqttConfig>;

export const EdgeConfig = z.object({
  siteServer: z.object({ url: HttpUrl, mqtt: MqttConfig }),
  heartbeatSeconds: z.number().int().min(5).max(3600),
  buffer: BufferConfig,
});
export type EdgeConfig = z.infer<typeof EdgeConfig>;

export const RegisterEdgeResponse = z.object({
  id: Uuid,
  edgeId: EdgeId,
  orgId: Uuid,
  siteId: Uuid,
  edgeToken: z.string().min(1).max(8192),
  serverTime: IsoDateTime,
  config: EdgeConfig,
});
export type RegisterEdgeResponse = z.infer<typeof RegisterEdgeResponse>;

/**
 * `connection`: where the site server is now (issue 17). The new edge token's `cfg` claim is its
 * `siteConnectionHash`; a device ignores a connection whose hash the token does not carry.
 */
export const TokenRefreshResponse = z.object({
  edgeToken: z.string().min(1).max(8192),
  serverTime: IsoDateTime,
  connection: SiteConnection.optional(),
});
export type TokenRefreshResponse = z.infer<typeof TokenRefreshResponse>;

/** The header that makes register-edge replayable after a lost response. */
export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';
/** Bodies above this are refused with 413 before they are parsed. */
export const MAX_REQUEST_BYTES = 64 * 1024;
