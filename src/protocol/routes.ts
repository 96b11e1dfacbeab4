/**
 * The cloud API's HTTP paths, in one place as the MQTT topics are in `topics.ts`. The mock cloud mounts the
 * patterns (`:name` is a path parameter); every client builds its URLs with `cloudPath`/`cloudUrl`, so no path can
 * drift between the two sides. That matters most for the token refresh URL: it is also the exact `aud` of the
 * device's assertion, which the cloud compares character for character.
 */
export const CLOUD_ROUTES = {
  login: '/api/auth/login',
  organisations: '/api/organisations',
  organisation: '/api/organisations/:orgId',
  sites: '/api/organisations/:orgId/sites',
  site: '/api/organisations/:orgId/sites/:siteId',
  pairingCodes: '/api/organisations/:orgId/sites/:siteId/pairing-codes',
  registerServer: '/api/organisations/:orgId/sites/:siteId/register-server',
  registerEdge: '/api/organisations/:orgId/sites/:siteId/register-edge',
  edges: '/api/organisations/:orgId/sites/:siteId/edges',
  edge: '/api/organisations/:orgId/sites/:siteId/edges/:edgeId',
  edgeToken: '/api/organisations/:orgId/sites/:siteId/edges/:edgeId/token',
  jwks: '/.well-known/jwks.json',
  // Licences (issue 15): admin+ lists; a site admin exports an offline licence file; a site server reports the
  // bindings it made offline (site token).
  licences: '/api/organisations/:orgId/licences',
  offlineLicence: '/api/organisations/:orgId/sites/:siteId/offline-licence',
  licenceBindings: '/api/organisations/:orgId/sites/:siteId/site-server/licence-bindings',
  // Updates (issue 13): a platform admin uploads a bundle (POST, the bundle file as the body); any signed-in user
  // lists; the site server fetches the bundle with its site token.
  releases: '/api/releases',
  releaseBundle: '/api/releases/:releaseId/bundle',
  // A site admin approves (POST) and cancels; viewer+ lists with per-edge progress.
  campaigns: '/api/organisations/:orgId/sites/:siteId/update-campaigns',
  campaign: '/api/organisations/:orgId/sites/:siteId/update-campaigns/:campaignId',
  campaignCancel: '/api/organisations/:orgId/sites/:siteId/update-campaigns/:campaignId/cancel',
  // The site server, with its site token: the site's campaigns, and progress reports.
  siteCampaigns: '/api/organisations/:orgId/sites/:siteId/site-server/update-campaigns',
  siteCampaignProgress: '/api/organisations/:orgId/sites/:siteId/site-server/update-campaigns/:campaignId/progress',
} as const;
export type CloudRoute = (typeof CLOUD_ROUTES)[keyof typeof CLOUD_ROUTES];

/** The parameter names of a route pattern: `'orgId' | 'siteId'` for `/api/organisations/:orgId/sites/:siteId`. */
type ParamNames<P extends string> = P extends `${string}:${infer Name}/${infer Rest}`
  ? Name | ParamNames<`/${Rest}`>
  : P extends `${string}:${infer Name}`
    ? Name
    : never;
type ParamsArg<R extends string> = [ParamNames<R>] extends [never] ? [] : [params: Record<ParamNames<R>, string>];

/** A route's path with every parameter filled in, URI-encoded. */
export function cloudPath<R extends CloudRoute>(route: R, ...[params]: ParamsArg<R>): string {
  const values = (params ?? {}) as Record<string, string>;
  return route.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(values[name] ?? ''));
}

/** `cloudPath` on a base URL (no trailing slash), as clients call it. */
export function cloudUrl<R extends CloudRoute>(baseUrl: string, route: R, ...params: ParamsArg<R>): string {
  return `${baseUrl}${cloudPath(route, ...params)}`;
}

/** The token refresh URL, which is also the exact `aud` the device's assertion names (CONTRACT §3). */
export function edgeTokenUrl(baseUrl: string, ids: { orgId: string; siteId: string; edgeId: string }): string {
  return cloudUrl(baseUrl, CLOUD_ROUTES.edgeToken, ids);
}

/**
 * The site server's edge-facing HTTPS API (its own listener, port 5000 by default, as the platform documents):
 * what edges call on the site server rather than on the cloud. Authenticated by the edge token except `register`
 * (the licence key is the credential) and `identity` (public).
 */
export const SITE_EDGE_ROUTES = {
  /** `{fingerprint, siteId, orgId, mode: 'connected'|'air-gapped'}`: what a technician compares before trusting. */
  identity: '/api/edge/identity',
  register: '/api/edge/register',
  /** Refresh of a site-issued edge token (air-gapped registration); the assertion's `aud` is this exact URL. */
  token: '/api/edge/edges/:edgeId/token',
  updateArtifact: '/api/edge/updates/:campaignId/artifact',
} as const;
/**
 * 504 from the site server's `register`: the request reached the cloud but its answer was lost, late or broken,
 * so the licence key may be bound. Retryable with the same Idempotency-Key, never "nothing was bound". Like
 * `CLOUD_UNREACHABLE`, a site-server code outside `ErrorCodes` (clients parse codes leniently).
 */
export const REGISTRATION_OUTCOME_UNKNOWN = 'REGISTRATION_OUTCOME_UNKNOWN';

export type SiteEdgeRoute = (typeof SITE_EDGE_ROUTES)[keyof typeof SITE_EDGE_ROUTES];

/** `cloudPath`'s twin for the site server's edge-facing routes. */
export function siteEdgeUrl<R extends SiteEdgeRoute>(baseUrl: string, route: R, ...[params]: ParamsArg<R>): string {
  const values = (params ?? {}) as Record<string, string>;
  return `${baseUrl}${route.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(values[name] ?? ''))}`;
}
