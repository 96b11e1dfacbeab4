/**
 * The cloud calls the site server makes: register-server (once), the JWKS, the site's edge list and its update
 * campaigns (periodically), campaign progress, and release bundles (streamed, see `bundle`). Every response is validated before use; every call has a timeout so a hung cloud cannot stall
 * a refresh forever. Tokens go in headers only and never into an error message.
 */
import type { JSONWebKeySet } from 'jose';
import { z } from 'zod';
import {
  ErrorBody,
  IDEMPOTENCY_KEY_HEADER,
  Jwks,
  LicenceBindingReportResponse,
  type LicenceBindingReport,
  type RegisterEdgeRequest,
  type SiteSigningKey,
  RegisterServerResponse,
  SiteCampaignListResponse,
  type CampaignProgressReport,
  type RegisterServerResponse as RegisterServerResult,
  type SiteCampaign,
  CLOUD_ROUTES,
  cloudUrl,
} from '../../../protocol/index.js';
import { KnownEdge } from './trust-store.js';

const TIMEOUT_MS = 5_000;
/** A bundle download may take long; it is abandoned when no byte arrives for this long. */
export const BUNDLE_IDLE_TIMEOUT_MS = 30_000;

export class CloudError extends Error {
  override readonly name = 'CloudError';
  constructor(
    message: string,
    readonly status?: number,
    readonly code?: string,
  ) {
    super(message);
  }
}

/**
 * A register-edge call whose outcome the site server cannot know: the request went out, but the answer timed
 * out, broke off or was not the contract's. The cloud may have bound the licence key, so this is never "nothing
 * was bound": the edge retries with the same Idempotency-Key and the cloud's replay tells the outcome.
 */
export class CloudOutcomeUnknownError extends CloudError {}

/** Errors of a connection that never carried the request: the cloud cannot have acted on it. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
const neverSent = (error: unknown) => {
  const code = (error as { cause?: { code?: unknown } }).cause?.code;
  return typeof code === 'string' && NOT_SENT_CODES.has(code);
};

/**
 * How long the relay waits for register-edge: longer than other calls (the cloud may be slow to commit), shorter
 * than the edge's own 15 s per request, so the edge hears "outcome unknown" from us rather than timing out itself.
 */
const RELAY_TIMEOUT_MS = 10_000;

/** The edge list, read leniently: a newer cloud may add fields, but the ones we rely on must be right. */
const EdgeList = z.object({ data: z.array(KnownEdge.passthrough()).max(100_000) });

async function call(url: string, init: RequestInit, what: string): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (cause) {
    throw new CloudError(`cannot reach the cloud for ${what} (${(cause as Error).name}: ${(cause as Error).message})`);
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    throw new CloudError(
      `the cloud answered ${what} with ${response.status} and a body that is not JSON`,
      response.status,
    );
  }
  if (!response.ok) {
    const error = ErrorBody.safeParse(body);
    const detail = error.success ? `${error.data.error.code}: ${error.data.error.message}` : `HTTP ${response.status}`;
    throw new CloudError(
      `the cloud refused ${what} (${detail})`,
      response.status,
      error.success ? error.data.error.code : undefined,
    );
  }
  return body;
}

function parse<T extends z.ZodType>(schema: T, body: unknown, what: string): z.infer<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success)
    throw new CloudError(
      `the cloud's answer to ${what} is malformed (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message})`,
    );
  return parsed.data;
}

export interface RegisterServerBody {
  hardwareId: string;
  version: string;
  hostname: string;
  /** `caCertificatePem`: the CA that signed the broker's certificate (protocol README item 12). */
  endpoints: { api: string; mqtt: string; caCertificatePem?: string };
  /** This server's public signing key (issue 15): offline licence files name it. */
  signingKey?: SiteSigningKey;
}

/** The cloud's answer to a relayed call, as it came: the site server passes refusals on unchanged. */
export interface RelayedAnswer {
  status: number;
  body: unknown;
}

export class CloudClient {
  constructor(
    private readonly baseUrl: string,
    private readonly orgId: string,
    private readonly siteId: string,
  ) {}

  async registerServer(bearer: string, body: RegisterServerBody): Promise<RegisterServerResult> {
    const answer = await call(
      cloudUrl(this.baseUrl, CLOUD_ROUTES.registerServer, { orgId: this.orgId, siteId: this.siteId }),
      {
        method: 'POST',
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      },
      'register-server',
    );
    return parse(RegisterServerResponse, answer, 'register-server');
  }

  /**
   * register-edge for an edge that brought a licence key, with the site token. Any HTTP answer is returned as it
   * came (the caller relays it). A cloud never reached throws `CloudError`; a request sent whose answer was lost,
   * late or not JSON throws `CloudOutcomeUnknownError` (the cloud may have bound the key).
   */
  async relayRegisterEdge(
    siteToken: string,
    body: RegisterEdgeRequest,
    idempotencyKey: string,
  ): Promise<RelayedAnswer> {
    const url = cloudUrl(this.baseUrl, CLOUD_ROUTES.registerEdge, { orgId: this.orgId, siteId: this.siteId });
    let status: number | undefined;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${siteToken}`,
          'content-type': 'application/json',
          [IDEMPOTENCY_KEY_HEADER]: idempotencyKey,
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(RELAY_TIMEOUT_MS),
      });
      status = response.status;
      return { status, body: JSON.parse(await response.text()) as unknown };
    } catch (cause) {
      const why = `${(cause as Error).name}: ${(cause as Error).message}`;
      if (status === undefined && neverSent(cause))
        throw new CloudError(`cannot reach the cloud for register-edge (${why})`);
      throw new CloudOutcomeUnknownError(
        status === undefined
          ? `the cloud's answer to register-edge was lost (${why})`
          : `the cloud answered register-edge with ${status} and a body that is not JSON`,
        status,
      );
    }
  }

  /** The bindings this server made offline (issue 15), with the site token. */
  async reportLicenceBindings(siteToken: string, report: LicenceBindingReport): Promise<LicenceBindingReportResponse> {
    const answer = await call(
      cloudUrl(this.baseUrl, CLOUD_ROUTES.licenceBindings, { orgId: this.orgId, siteId: this.siteId }),
      {
        method: 'POST',
        headers: { authorization: `Bearer ${siteToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(report),
      },
      'the licence binding report',
    );
    return parse(LicenceBindingReportResponse, answer, 'the licence binding report');
  }

  async jwks(): Promise<JSONWebKeySet> {
    const answer = await call(
      cloudUrl(this.baseUrl, CLOUD_ROUTES.jwks),
      { headers: { accept: 'application/json' } },
      'the JWKS',
    );
    return parse(Jwks, answer, 'the JWKS') as JSONWebKeySet;
  }

  async edges(siteToken: string): Promise<KnownEdge[]> {
    const answer = await call(
      cloudUrl(this.baseUrl, CLOUD_ROUTES.edges, { orgId: this.orgId, siteId: this.siteId }),
      { headers: { authorization: `Bearer ${siteToken}`, accept: 'application/json' } },
      'the edge list',
    );
    return parse(EdgeList, answer, 'the edge list').data.map((e) => ({
      edgeId: e.edgeId,
      status: e.status,
      ...(e.id ? { id: e.id } : {}),
      ...(e.registeredAt ? { registeredAt: e.registeredAt } : {}),
      ...(e.revokedAt ? { revokedAt: e.revokedAt } : {}),
    }));
  }

  async siteCampaigns(siteToken: string): Promise<SiteCampaign[]> {
    const answer = await call(
      cloudUrl(this.baseUrl, CLOUD_ROUTES.siteCampaigns, { orgId: this.orgId, siteId: this.siteId }),
      { headers: { authorization: `Bearer ${siteToken}`, accept: 'application/json' } },
      'the update campaigns',
    );
    return parse(SiteCampaignListResponse, answer, 'the update campaigns').campaigns;
  }

  async reportCampaignProgress(siteToken: string, campaignId: string, body: CampaignProgressReport): Promise<void> {
    await call(
      cloudUrl(this.baseUrl, CLOUD_ROUTES.siteCampaignProgress, {
        orgId: this.orgId,
        siteId: this.siteId,
        campaignId,
      }),
      {
        method: 'POST',
        headers: { authorization: `Bearer ${siteToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      },
      'the campaign progress report',
    );
  }

  /**
   * Starts a release bundle download, from byte `offset` on (`Range`), and returns the response once its
   * headers are in: 200 (the whole bundle; the cloud ignored the range) or 206. Any other answer is a CloudError.
   * The caller reads the body and aborts `signal` to give up.
   */
  async bundle(siteToken: string, releaseId: string, offset: number, signal: AbortSignal): Promise<Response> {
    const what = `release bundle ${releaseId}`;
    let response: Response;
    try {
      response = await fetch(cloudUrl(this.baseUrl, CLOUD_ROUTES.releaseBundle, { releaseId }), {
        headers: {
          authorization: `Bearer ${siteToken}`,
          accept: 'application/octet-stream',
          ...(offset > 0 ? { range: `bytes=${offset}-` } : {}),
        },
        signal,
      });
    } catch (cause) {
      throw new CloudError(
        `cannot reach the cloud for ${what} (${(cause as Error).name}: ${(cause as Error).message})`,
      );
    }
    if (response.status === 200 || response.status === 206) return response;
    const body = await response.text().catch(() => '');
    let detail = `HTTP ${response.status}`;
    let code: string | undefined;
    try {
      const error = ErrorBody.safeParse(JSON.parse(body));
      if (error.success) {
        detail = `${error.data.error.code}: ${error.data.error.message}`;
        code = error.data.error.code;
      }
    } catch {
      /* not JSON: the status says enough */
    }
    throw new CloudError(`the cloud refused ${what} (${detail})`, response.status, code);
  }
}
