/**
 * A client for the mock site server's control API (`src/mock/site-server/http`): what the scenarios observe
 * and provoke on the site side. Answers are checked with zod only as far as the rig relies on them, so a new
 * field in the server never breaks a rig.
 */
import { z } from 'zod';

const Presence = z.object({ state: z.string(), reason: z.string().nullable(), since: z.string().nullable() }).loose();
export const EdgeSummary = z
  .object({
    edgeId: z.string(),
    registration: z.string(),
    connected: z.boolean().nullable(),
    presence: Presence,
    counters: z
      .object({
        received: z.number(),
        messages: z.number(),
        duplicates: z.number(),
        gaps: z.number(),
        missing: z.number(),
        invalid: z.number(),
      })
      .loose(),
    lastSeq: z.number(),
    lastHeartbeat: z.unknown(),
    config: z.object({ pushedVersion: z.number().nullable().optional(), reported: z.unknown() }).loose(),
  })
  .loose();
export type EdgeSummary = z.infer<typeof EdgeSummary>;

const Gaps = z.object({
  data: z.array(z.object({ from: z.number(), to: z.number() }).loose()),
  lastSeq: z.number(),
  missing: z.number(),
});
const Messages = z.object({
  data: z.array(
    z
      .object({
        channel: z.string(),
        receivedAt: z.string(),
        payload: z.unknown(),
        seq: z.number().optional(),
        verdict: z.string().optional(),
      })
      .loose(),
  ),
});
const SupportBundleAnswer = z
  .object({
    id: z.string(),
    result: z.unknown().optional(),
    bundle: z.object({ id: z.string(), bytes: z.number(), sha256: z.string() }).loose().nullable().optional(),
    error: z.object({ code: z.string(), message: z.string() }).loose().optional(),
  })
  .loose();
/** One campaign on the site server's control API (`GET /updates`), with each targeted edge's latest report. */
const UpdateCampaignView = z
  .object({
    id: z.string(),
    version: z.string().nullable(),
    size: z.number().nullable(),
    artifact: z.object({ state: z.string(), reason: z.unknown().optional() }).loose(),
    progress: z.array(
      z
        .object({
          edgeId: z.string(),
          state: z.string(),
          reason: z.object({ code: z.string(), message: z.string() }).loose().nullish(),
          runningVersion: z.string().nullish(),
          progress: z.object({ bytes: z.number(), total: z.number() }).nullish(),
        })
        .loose(),
    ),
  })
  .loose();
export type UpdateCampaignView = z.infer<typeof UpdateCampaignView>;
const Health = z
  .object({
    status: z.string(),
    siteId: z.string(),
    mqttUrl: z.string(),
    listener: z.string().nullable(),
    /** A site server with an edge-facing API (issue 15): where edges register and the key they pin. */
    edgeUrl: z.string().optional(),
    fingerprint: z.string().optional(),
    mode: z.enum(['connected', 'air-gapped']).optional(),
  })
  .loose();

export class SiteControlError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const REQUEST_TIMEOUT_MS = 30_000;

export class SiteControlClient {
  private readonly base: string;

  /** `controlToken`: the site server's bearer token (its ready line, or CONSYSTENCE_SITE_CONTROL_TOKEN). */
  constructor(
    baseUrl: string,
    private readonly controlToken: string | undefined,
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  private authorization(): Record<string, string> {
    return this.controlToken ? { authorization: `Bearer ${this.controlToken}` } : {};
  }

  private async call<T extends z.ZodType>(
    method: string,
    path: string,
    schema: T,
    body?: unknown,
    timeoutMs = REQUEST_TIMEOUT_MS,
  ): Promise<{ status: number; body: z.infer<T> }> {
    const res = await fetch(this.base + path, {
      method,
      headers: {
        ...this.authorization(),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      throw new SiteControlError(res.status, 'BAD_RESPONSE', `${method} ${path}: not JSON (${res.status})`);
    }
    if (res.status >= 400 && res.status !== 504 && res.status !== 502) {
      const error = (json as { error?: { code?: string; message?: string } }).error;
      throw new SiteControlError(
        res.status,
        error?.code ?? 'UNKNOWN',
        `${method} ${path} → ${res.status} ${error?.code ?? ''}: ${error?.message ?? text.slice(0, 200)}`,
      );
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success)
      throw new SiteControlError(
        res.status,
        'BAD_RESPONSE',
        `${method} ${path}: unexpected body: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`,
      );
    return { status: res.status, body: parsed.data };
  }

  async health(): Promise<z.infer<typeof Health>> {
    return (await this.call('GET', '/health', Health)).body;
  }

  /** The update campaigns the site server knows, with per-edge progress (`GET /updates`). */
  async updates(): Promise<UpdateCampaignView[]> {
    return (await this.call('GET', '/updates', z.object({ campaigns: z.array(UpdateCampaignView) }))).body.campaigns;
  }

  /** Cuts the next artifact download after `dropAfterBytes` (`POST /faults/update-artifact`). */
  async artifactFault(fault: { dropAfterBytes?: number; mode?: 'once' | 'always'; bytesPerSecond?: number }) {
    await this.call('POST', '/faults/update-artifact', z.unknown(), fault);
  }

  /** How many artifact responses were cut and how many artifact bytes were served (`GET /faults/update-artifact`). */
  async artifactTraffic(): Promise<{ dropped: number; servedBytes: number }> {
    return (
      await this.call('GET', '/faults/update-artifact', z.object({ dropped: z.number(), servedBytes: z.number() }))
    ).body;
  }

  async edges(): Promise<EdgeSummary[]> {
    return (await this.call('GET', '/edges', z.object({ data: z.array(EdgeSummary) }))).body.data;
  }

  /** The edge's summary, or null when the server has never seen nor registered it. */
  async edge(edgeId: string): Promise<EdgeSummary | null> {
    try {
      return (await this.call('GET', `/edges/${encodeURIComponent(edgeId)}`, EdgeSummary)).body;
    } catch (error) {
      if (error instanceof SiteControlError && error.status === 404) return null;
      throw error;
    }
  }

  async gaps(edgeId: string): Promise<z.infer<typeof Gaps>> {
    return (await this.call('GET', `/edges/${encodeURIComponent(edgeId)}/gaps`, Gaps)).body;
  }

  async messages(
    edgeId: string,
    options: { channel?: string; limit?: number } = {},
  ): Promise<z.infer<typeof Messages>['data']> {
    const query = new URLSearchParams({
      ...(options.channel ? { channel: options.channel } : {}),
      limit: String(options.limit ?? 100),
    });
    return (await this.call('GET', `/edges/${encodeURIComponent(edgeId)}/messages?${query}`, Messages)).body.data;
  }

  /** Pushes a config and waits for the edge's `config/reported`; a 504 (no report in time) is returned, not thrown. */
  async pushConfig(
    edgeId: string,
    config: Record<string, unknown>,
    options: { timeoutMs?: number; version?: number } = {},
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    return this.call(
      'POST',
      `/edges/${encodeURIComponent(edgeId)}/config`,
      z.record(z.string(), z.unknown()),
      { config, wait: true, timeoutMs, ...(options.version ? { version: options.version } : {}) },
      timeoutMs + REQUEST_TIMEOUT_MS,
    );
  }

  /** Sends a command and waits for its result; a 504 (no result in time) is returned, not thrown. */
  async command(
    edgeId: string,
    name: string,
    options: { args?: Record<string, unknown>; timeoutMs?: number } = {},
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    return this.call(
      'POST',
      `/edges/${encodeURIComponent(edgeId)}/commands`,
      z.record(z.string(), z.unknown()),
      { name, timeoutMs, ...(options.args ? { args: options.args } : {}) },
      timeoutMs + REQUEST_TIMEOUT_MS,
    );
  }

  /**
   * Asks the edge for a support bundle (the `support-bundle` command with an upload URL) and waits for its upload;
   * a 502 (the edge failed) or 504 (no answer in time) is returned, not thrown.
   */
  async supportBundle(
    edgeId: string,
    options: { since?: string; maxBytes?: number; timeoutMs?: number } = {},
  ): Promise<{ status: number; body: z.infer<typeof SupportBundleAnswer> }> {
    const timeoutMs = options.timeoutMs ?? 60_000;
    return this.call(
      'POST',
      `/edges/${encodeURIComponent(edgeId)}/support-bundle`,
      SupportBundleAnswer,
      {
        timeoutMs,
        ...(options.since ? { since: options.since } : {}),
        ...(options.maxBytes ? { maxBytes: options.maxBytes } : {}),
      },
      timeoutMs + REQUEST_TIMEOUT_MS,
    );
  }

  /** The bytes of a bundle an edge uploaded (a .tar.gz). */
  async downloadSupportBundle(edgeId: string, bundleId: string): Promise<Buffer> {
    const path = `/edges/${encodeURIComponent(edgeId)}/support-bundles/${encodeURIComponent(bundleId)}`;
    const res = await fetch(this.base + path, {
      headers: this.authorization(),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    if (res.status !== 200) throw new SiteControlError(res.status, 'DOWNLOAD_FAILED', `GET ${path} → ${res.status}`);
    return Buffer.from(await res.arrayBuffer());
  }

  /** Publishes raw bytes to an edge's config or cmd topic (garbage the control API's own routes would refuse). */
  async publishRaw(edgeId: string, channel: 'config' | 'cmd', payload: string): Promise<void> {
    await this.call('POST', `/edges/${encodeURIComponent(edgeId)}/raw`, z.unknown(), { channel, payload });
  }

  readonly faults = {
    refuseConnects: (count: number, returnCode: 1 | 2 | 3 | 4 | 5 = 3) =>
      this.call('POST', '/faults/refuse-connects', z.unknown(), { count, returnCode }),
    drop: (edgeId?: string) => this.call('POST', '/faults/drop', z.unknown(), edgeId ? { edgeId } : {}),
    pause: (ms: number) => this.call('POST', '/faults/pause', z.unknown(), { ms }),
    listener: (action: 'stop' | 'start') => this.call('POST', '/faults/listener', z.unknown(), { action }),
    reset: () => this.call('DELETE', '/faults', z.unknown()),
  };
}
