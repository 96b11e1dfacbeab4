/**
 * A typed admin client for the mock cloud (and, for the contract's routes, any cloud). Every response is parsed
 * with the protocol schemas; every refusal becomes a `MockCloudError` carrying the status and the contract's
 * error code, so callers switch on `code`, never on message text.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import {
  ErrorBody,
  IDEMPOTENCY_KEY_HEADER,
  LoginResponse,
  Organisation,
  PairingCodeResponse,
  RegisterEdgeResponse,
  RegisterServerResponse,
  Site,
  SiteDetail,
  SiteListItem,
  EdgeSummary,
  TokenRefreshResponse,
  LicenceListResponse,
  LicenceBindingReportResponse,
  OfflineLicenceResponse,
  listOf,
  Jwks,
  type CreateOrganisationRequest,
  type CreatePairingCodeRequest,
  type CreateSiteRequest,
  type RegisterEdgeRequest,
  type RegisterServerRequest,
  type UpdateSiteRequest,
  type LicenceBindingReport,
  type OfflineLicenceRequest,
  type ErrorDetail,
  CLOUD_ROUTES,
  cloudPath,
  edgeTokenUrl,
  CampaignListResponse,
  CampaignProgressResult,
  MAX_BUNDLE_BYTES,
  CampaignView,
  ReleaseListResponse,
  ReleaseView,
  SiteCampaignListResponse,
  type CampaignProgressReport,
  type CreateCampaignRequest,
  type SiteCampaign,
} from '../../protocol/index.js';
import type { ArmedFaults, FaultInput } from './faults.js';
import { sendRequest, type HttpResponse } from './http-request.js';

export class MockCloudError extends Error {
  override readonly name = 'MockCloudError';
  constructor(
    readonly status: number,
    /** The contract's error code, or `BAD_RESPONSE` when the answer was not the contract's error body. */
    readonly code: string,
    message: string,
    readonly details: ErrorDetail[] = [],
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

const ArmedFaultsBody = z.object({
  latency: z.array(z.unknown()),
  pending: z.array(z.unknown()),
  clockOffsetSeconds: z.number(),
});
const Health = z.object({ ok: z.literal(true), serverTime: z.string() });
const MintedLicences = z.object({ licences: z.array(z.string()) });

type Json = Record<string, unknown>;
interface CallOptions {
  body?: unknown;
  /** A file sent as the body (`application/octet-stream`), streamed. */
  file?: string;
  /** Overrides the stored access token (a pairing code, a site token, a device assertion). */
  bearer?: string | null;
  headers?: Record<string, string>;
}

export class MockCloudClient {
  private accessToken: string | undefined;
  private controlToken: string | null = null;
  private readonly base: string;

  constructor(
    baseUrl: string,
    private readonly ca?: string,
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  /** The bearer token for the rig's `/_mock/` routes (the cloud's ready line, or `startMockCloud`'s answer). */
  setControlToken(token: string): void {
    this.controlToken = token;
  }

  /** Uses this access token for later calls (login sets it). */
  setAccessToken(token: string | undefined): void {
    this.accessToken = token;
  }

  private async call<T extends z.ZodType>(
    method: string,
    path: string,
    schema: T | null,
    options: CallOptions = {},
  ): Promise<z.infer<T>> {
    const bearer = options.bearer === undefined ? this.accessToken : (options.bearer ?? undefined);
    const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
    let body: string | Readable | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['Content-Type'] = 'application/json';
    }
    if (options.file !== undefined) {
      body = createReadStream(options.file);
      headers['Content-Type'] = 'application/octet-stream';
      headers['Content-Length'] = String((await stat(options.file)).size);
    }
    const res = await sendRequest(new URL(this.base + path), { method, headers, body, ca: this.ca });
    return this.parseAnswer(method, path, res, schema);
  }

  private parseAnswer<T extends z.ZodType>(
    method: string,
    path: string,
    res: HttpResponse,
    schema: T | null,
  ): z.infer<T> {
    const parsed = parseJson(res.text);
    if (res.status >= 400) {
      const error = ErrorBody.safeParse(parsed);
      const retryAfter = Number(res.headers['retry-after']);
      if (!error.success)
        throw new MockCloudError(
          res.status,
          'BAD_RESPONSE',
          `${method} ${path} answered ${res.status} without the contract's error body`,
        );
      throw new MockCloudError(
        res.status,
        error.data.error.code,
        error.data.error.message,
        error.data.error.details ?? [],
        Number.isFinite(retryAfter) ? retryAfter : undefined,
      );
    }
    if (schema === null) return undefined as z.infer<T>;
    const result = schema.safeParse(parsed);
    if (!result.success)
      throw new MockCloudError(
        res.status,
        'BAD_RESPONSE',
        `${method} ${path} answered a body that does not match the contract: ${result.error.issues[0]?.path.join('.')} ${result.error.issues[0]?.message}`,
      );
    return result.data;
  }

  // ---- users and organisations -------------------------------------------------------------------------
  async login(email: string, password: string): Promise<LoginResponse> {
    const response = await this.call('POST', CLOUD_ROUTES.login, LoginResponse, {
      body: { email, password },
      bearer: null,
    });
    this.accessToken = response.accessToken;
    return response;
  }
  createOrganisation(body: z.input<typeof CreateOrganisationRequest>): Promise<Organisation> {
    return this.call('POST', CLOUD_ROUTES.organisations, Organisation, { body });
  }
  async listOrganisations(): Promise<Organisation[]> {
    return (await this.call('GET', CLOUD_ROUTES.organisations, listOf(Organisation))).data;
  }
  getOrganisation(orgId: string): Promise<Organisation> {
    return this.call('GET', cloudPath(CLOUD_ROUTES.organisation, { orgId }), Organisation);
  }

  // ---- sites ---------------------------------------------------------------------------------------------
  createSite(orgId: string, body: z.input<typeof CreateSiteRequest>): Promise<Site> {
    return this.call('POST', cloudPath(CLOUD_ROUTES.sites, { orgId }), Site, { body });
  }
  async listSites(orgId: string): Promise<Array<z.infer<typeof SiteListItem>>> {
    return (await this.call('GET', cloudPath(CLOUD_ROUTES.sites, { orgId }), listOf(SiteListItem))).data;
  }
  getSite(orgId: string, siteId: string): Promise<z.infer<typeof SiteDetail>> {
    return this.call('GET', cloudPath(CLOUD_ROUTES.site, { orgId, siteId }), SiteDetail);
  }
  updateSite(orgId: string, siteId: string, body: z.input<typeof UpdateSiteRequest>): Promise<Site> {
    return this.call('PUT', cloudPath(CLOUD_ROUTES.site, { orgId, siteId }), Site, { body });
  }
  async deleteSite(orgId: string, siteId: string): Promise<void> {
    await this.call('DELETE', cloudPath(CLOUD_ROUTES.site, { orgId, siteId }), null);
  }

  // ---- site server and edges -----------------------------------------------------------------------------
  /** As an admin (the stored access token), or with `pairingCode`. */
  registerServer(
    orgId: string,
    siteId: string,
    body: z.input<typeof RegisterServerRequest>,
    options: { pairingCode?: string } = {},
  ): Promise<RegisterServerResponse> {
    return this.call('POST', cloudPath(CLOUD_ROUTES.registerServer, { orgId, siteId }), RegisterServerResponse, {
      body,
      ...(options.pairingCode ? { bearer: options.pairingCode } : {}),
    });
  }
  createPairingCode(
    orgId: string,
    siteId: string,
    body: z.input<typeof CreatePairingCodeRequest> = {},
  ): Promise<PairingCodeResponse> {
    return this.call('POST', cloudPath(CLOUD_ROUTES.pairingCodes, { orgId, siteId }), PairingCodeResponse, { body });
  }
  /**
   * As an engineer+ (the stored access token), with `pairingCode`, or with the site's `siteToken` (a site server
   * relaying an edge that brought a licence key).
   */
  registerEdge(
    orgId: string,
    siteId: string,
    body: RegisterEdgeRequest,
    options: { idempotencyKey: string; pairingCode?: string; siteToken?: string },
  ): Promise<RegisterEdgeResponse> {
    const bearer = options.pairingCode ?? options.siteToken;
    return this.call('POST', cloudPath(CLOUD_ROUTES.registerEdge, { orgId, siteId }), RegisterEdgeResponse, {
      body,
      headers: { [IDEMPOTENCY_KEY_HEADER]: options.idempotencyKey },
      ...(bearer ? { bearer } : {}),
    });
  }
  /** The exact URL a device assertion's `aud` must name (relative to the base URL this client was given). */
  edgeTokenUrl(orgId: string, siteId: string, edgeId: string): string {
    return edgeTokenUrl(this.base, { orgId, siteId, edgeId });
  }
  refreshEdgeToken(orgId: string, siteId: string, edgeId: string, assertion: string): Promise<TokenRefreshResponse> {
    return this.call('POST', cloudPath(CLOUD_ROUTES.edgeToken, { orgId, siteId, edgeId }), TokenRefreshResponse, {
      bearer: assertion,
    });
  }
  /** As a viewer+ (the stored access token), or with the site's `siteToken`. */
  async listEdges(orgId: string, siteId: string, options: { siteToken?: string } = {}): Promise<EdgeSummary[]> {
    return (
      await this.call(
        'GET',
        cloudPath(CLOUD_ROUTES.edges, { orgId, siteId }),
        listOf(EdgeSummary),
        options.siteToken ? { bearer: options.siteToken } : {},
      )
    ).data;
  }
  async revokeEdge(orgId: string, siteId: string, edgeId: string): Promise<void> {
    await this.call('DELETE', cloudPath(CLOUD_ROUTES.edge, { orgId, siteId, edgeId }), null);
  }
  // ---- licences (issue 15) ---------------------------------------------------------------------------------
  /** As an admin+: every licence of the organisation with its binding and reported conflicts. */
  listLicences(orgId: string): Promise<LicenceListResponse> {
    return this.call('GET', cloudPath(CLOUD_ROUTES.licences, { orgId }), LicenceListResponse);
  }
  /** As an admin+: the signed offline licence file for an air-gapped site (default: every unbound licence). */
  exportOfflineLicence(
    orgId: string,
    siteId: string,
    body: OfflineLicenceRequest = {},
  ): Promise<OfflineLicenceResponse> {
    return this.call('POST', cloudPath(CLOUD_ROUTES.offlineLicence, { orgId, siteId }), OfflineLicenceResponse, {
      body,
    });
  }
  /** As the site server (its site token): the bindings it made offline. */
  reportLicenceBindings(
    orgId: string,
    siteId: string,
    report: LicenceBindingReport,
    siteToken: string,
  ): Promise<LicenceBindingReportResponse> {
    return this.call('POST', cloudPath(CLOUD_ROUTES.licenceBindings, { orgId, siteId }), LicenceBindingReportResponse, {
      body: report,
      bearer: siteToken,
    });
  }

  jwks(): Promise<z.infer<typeof Jwks>> {
    return this.call('GET', CLOUD_ROUTES.jwks, Jwks, { bearer: null });
  }

  // ---- releases and update campaigns (issue 13) -----------------------------------------------------------
  /**
   * As a platform admin: uploads a bundle file (streamed); a new release, or the existing one for the same bytes.
   * A file over the cap is refused here: the cloud would close the connection mid-body, and the client would see
   * a broken pipe rather than the 413.
   */
  async uploadRelease(path: string): Promise<ReleaseView> {
    const { size } = await stat(path);
    if (size > MAX_BUNDLE_BYTES)
      throw new Error(`${path} has ${size} bytes; a bundle may be at most ${MAX_BUNDLE_BYTES} bytes`);
    return this.call('POST', CLOUD_ROUTES.releases, ReleaseView, { file: path });
  }
  async listReleases(filter: { kind?: string; arch?: string; name?: string } = {}): Promise<ReleaseView[]> {
    const query = new URLSearchParams(Object.entries(filter).filter((e): e is [string, string] => e[1] !== undefined));
    const suffix = query.size ? `?${query}` : '';
    return (await this.call('GET', `${CLOUD_ROUTES.releases}${suffix}`, ReleaseListResponse)).releases;
  }
  /** As a platform admin, or with the `siteToken` of a site whose active campaign names the release. */
  async downloadReleaseBundle(
    releaseId: string,
    options: { siteToken?: string; range?: string } = {},
  ): Promise<{ status: number; headers: HttpResponse['headers']; body: Buffer }> {
    const path = cloudPath(CLOUD_ROUTES.releaseBundle, { releaseId });
    const bearer = options.siteToken ?? this.accessToken;
    const res = await sendRequest(new URL(this.base + path), {
      method: 'GET',
      headers: {
        ...(bearer ? { Authorization: `Bearer ${bearer}` } : {}),
        ...(options.range ? { Range: options.range } : {}),
      },
      ca: this.ca,
    });
    if (res.status >= 400 && res.status !== 416) this.parseAnswer('GET', path, res, null);
    return { status: res.status, headers: res.headers, body: res.body };
  }
  /** As an admin+ of the organisation: approves an update of the site's edges (all, or `edges`). */
  createCampaign(orgId: string, siteId: string, body: CreateCampaignRequest): Promise<CampaignView> {
    return this.call('POST', cloudPath(CLOUD_ROUTES.campaigns, { orgId, siteId }), CampaignView, { body });
  }
  async listCampaigns(orgId: string, siteId: string): Promise<CampaignView[]> {
    return (await this.call('GET', cloudPath(CLOUD_ROUTES.campaigns, { orgId, siteId }), CampaignListResponse))
      .campaigns;
  }
  getCampaign(orgId: string, siteId: string, campaignId: string): Promise<CampaignView> {
    return this.call('GET', cloudPath(CLOUD_ROUTES.campaign, { orgId, siteId, campaignId }), CampaignView);
  }
  cancelCampaign(orgId: string, siteId: string, campaignId: string): Promise<CampaignView> {
    return this.call('POST', cloudPath(CLOUD_ROUTES.campaignCancel, { orgId, siteId, campaignId }), CampaignView);
  }
  /** With the site token: the site's campaigns as its site server reads them. */
  async siteCampaigns(orgId: string, siteId: string, siteToken: string): Promise<SiteCampaign[]> {
    return (
      await this.call('GET', cloudPath(CLOUD_ROUTES.siteCampaigns, { orgId, siteId }), SiteCampaignListResponse, {
        bearer: siteToken,
      })
    ).campaigns;
  }
  /** With the site token: the latest state of some edges in a campaign. */
  reportCampaignProgress(
    orgId: string,
    siteId: string,
    campaignId: string,
    siteToken: string,
    body: CampaignProgressReport,
  ): Promise<CampaignProgressResult> {
    return this.call(
      'POST',
      cloudPath(CLOUD_ROUTES.siteCampaignProgress, { orgId, siteId, campaignId }),
      CampaignProgressResult,
      { body, bearer: siteToken },
    );
  }

  // ---- the rig's control API -----------------------------------------------------------------------------
  readonly faults = {
    set: (fault: FaultInput): Promise<ArmedFaults> =>
      this.call('POST', '/_mock/faults', ArmedFaultsBody, {
        body: fault,
        bearer: this.controlToken,
      }) as Promise<ArmedFaults>,
    reset: (): Promise<ArmedFaults> =>
      this.call('DELETE', '/_mock/faults', ArmedFaultsBody, { bearer: this.controlToken }) as Promise<ArmedFaults>,
    get: (): Promise<ArmedFaults> =>
      this.call('GET', '/_mock/faults', ArmedFaultsBody, { bearer: this.controlToken }) as Promise<ArmedFaults>,
  };
  /** Adds `count` random licence keys to an organisation (for rigs that need more than the seed's). */
  async mintLicences(orgId: string, count: number): Promise<string[]> {
    return (
      await this.call('POST', '/_mock/licences', MintedLicences, { body: { orgId, count }, bearer: this.controlToken })
    ).licences;
  }
  async setClock(offsetSeconds: number): Promise<void> {
    await this.call('PUT', '/_mock/clock', ArmedFaultsBody, { body: { offsetSeconds }, bearer: this.controlToken });
  }
  health(): Promise<z.infer<typeof Health>> {
    return this.call('GET', '/_mock/health', Health, { bearer: null });
  }
}

function parseJson(text: string): Json | undefined {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as Json;
  } catch {
    return undefined;
  }
}
