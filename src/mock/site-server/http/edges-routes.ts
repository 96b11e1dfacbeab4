/**
 * `/edges`: what the site server sees of each edge, and what it can do to one: push a config, send a command and
 * wait for its result, or publish raw bytes to its config or command topic (to provoke its rejections).
 */
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import {
  ConfigPush,
  ConfigReported,
  ConfigVersion,
  EdgeChannels,
  EdgeId,
  IsoDateTime,
  MAX_CONFIG_VERSION,
  RuntimeConfigPatch,
} from '../../../protocol/index.js';
import type { TrustStore } from '../upstream/trust-store.js';
import type { CampaignStore } from '../updates/campaign-store.js';
import type { EdgeRecord } from '../site/edge-book.js';
import type { SiteLogic } from '../site/site-logic.js';
import { HttpError } from '../../../common/http/http-error.js';
import { parseOrThrow, readBody } from './errors.js';

export interface EdgesBackend {
  logic: SiteLogic;
  store: TrustStore;
  campaigns: CampaignStore;
  /** Live sessions, known only with the embedded broker. */
  connectedEdges?: () => string[];
}

const Timeout = z.number().int().min(1).max(300_000);

export const ConfigPushBody = z.strictObject({
  config: RuntimeConfigPatch,
  version: ConfigVersion.optional(),
  /** Wait for `config/reported` (of this version or later) before answering. */
  wait: z.boolean().optional(),
  timeoutMs: Timeout.optional(),
});

/**
 * Recovers an edge whose config version went wrong (too high to count past): the push carries `resetFrom`, the
 * version the edge holds (default: the one it last reported here), and the edge takes `version` (default 1).
 */
export const ConfigResetBody = z.strictObject({
  config: RuntimeConfigPatch,
  resetFrom: ConfigPush.shape.resetFrom,
  version: ConfigVersion.optional(),
  wait: z.boolean().optional(),
  timeoutMs: Timeout.optional(),
});

export const CommandBody = z.strictObject({
  name: z.string().min(1).max(64),
  args: z.record(z.string(), z.unknown()).optional(),
  expiresAt: IsoDateTime.optional(),
  timeoutMs: Timeout.optional(),
});

/**
 * Raw bytes for an edge's config or cmd topic. The control API caps bodies at 64 KiB, so an oversized message is
 * made with `padToBytes`: trailing spaces, which keep valid JSON valid and so test the receiver's size cap alone.
 * The result must still fit the broker's limit (`--max-payload-bytes`); a larger one is a 413.
 */
export const RawPublishBody = z.strictObject({
  channel: z.enum(['config', 'cmd']),
  payload: z.string().max(60 * 1024),
  padToBytes: z
    .number()
    .int()
    .min(1)
    .max(1024 * 1024)
    .optional(),
  retain: z.boolean().default(false),
});

const MessagesQuery = z.strictObject({
  channel: z.enum(EdgeChannels).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(100),
});

const DEFAULT_TIMEOUT_MS = 10_000;

function edgeParam(raw: string): string {
  return parseOrThrow(z.object({ edgeId: EdgeId }), { edgeId: raw }).edgeId;
}

/**
 * The edge's update job: the last `P/update/state` this process received (offline installs included), else the
 * last one stored for a campaign (across a restart of the site server).
 */
function updateView(record: EdgeRecord | undefined, campaigns: CampaignStore, edgeId: string) {
  const live = record?.lastUpdateState;
  if (live)
    return {
      campaignId: live.campaignId,
      version: live.version,
      state: live.state,
      progress: live.progress ?? null,
      reason: live.reason ?? null,
      runningVersion: live.runningVersion,
      at: live.at,
    };
  const stored = campaigns.latestForEdge(edgeId);
  if (!stored) return null;
  return {
    campaignId: stored.campaignId,
    version: campaigns.campaign(stored.campaignId)?.release?.version ?? null,
    state: stored.state ?? null,
    progress: stored.progress ?? null,
    reason: stored.reason ?? null,
    runningVersion: stored.runningVersion ?? null,
    at: stored.at ?? null,
  };
}

function summary(
  edgeId: string,
  record: EdgeRecord | undefined,
  backend: EdgesBackend,
  connected: Set<string> | undefined,
) {
  const known = backend.store.edge(edgeId);
  const t = record?.tracker;
  return {
    edgeId,
    registration: known?.status ?? 'unknown',
    connected: connected ? connected.has(edgeId) : null,
    presence: record?.presence ?? { state: 'unknown', reason: null, since: null },
    counters: {
      received: record?.received ?? 0,
      messages: t?.accepted ?? 0,
      duplicates: t?.duplicates ?? 0,
      gaps: t?.gapsDetected ?? 0,
      missing: t?.missing() ?? 0,
      invalid: record?.invalid ?? 0,
    },
    lastSeq: t?.highest ?? 0,
    lastHeartbeat: record?.lastHeartbeat ?? null,
    config: { pushedVersion: backend.store.lastConfigVersion(edgeId), reported: record?.lastConfigReported ?? null },
    update: updateView(record, backend.campaigns, edgeId),
  };
}

export function edgesRoutes(backend: EdgesBackend): Hono {
  const app = new Hono();

  app.get('/', (c) => {
    const connected = backend.connectedEdges ? new Set(backend.connectedEdges()) : undefined;
    const ids = new Set([
      ...backend.store.edges().map((e) => e.edgeId),
      ...backend.logic.book.all().map((r) => r.edgeId),
    ]);
    return c.json({ data: [...ids].sort().map((id) => summary(id, backend.logic.book.get(id), backend, connected)) });
  });

  /** The edge id of the path, if it is connected, was seen, or the cloud registered it here; else 404. */
  const knownEdge = (c: Context): string => {
    const edgeId = edgeParam(c.req.param('edgeId') ?? '');
    const connected = backend.connectedEdges?.().includes(edgeId) ?? false;
    if (!connected && !backend.logic.book.get(edgeId) && !backend.store.edge(edgeId))
      throw new HttpError(404, 'NOT_FOUND', `no edge ${edgeId} has been seen or registered`);
    return edgeId;
  };

  app.get('/:edgeId', (c) => {
    const edgeId = knownEdge(c);
    const connected = backend.connectedEdges ? new Set(backend.connectedEdges()) : undefined;
    return c.json(summary(edgeId, backend.logic.book.get(edgeId), backend, connected));
  });

  app.get('/:edgeId/messages', (c) => {
    const edgeId = edgeParam(c.req.param('edgeId'));
    const query = parseOrThrow(MessagesQuery, c.req.query());
    const all = backend.logic.book.get(edgeId)?.messages ?? [];
    const matching = query.channel ? all.filter((m) => m.channel === query.channel) : all;
    return c.json({ data: matching.slice(-query.limit) });
  });

  app.get('/:edgeId/gaps', (c) => {
    const edgeId = edgeParam(c.req.param('edgeId'));
    const tracker = backend.logic.book.get(edgeId)?.tracker;
    return c.json({ data: tracker?.gaps() ?? [], lastSeq: tracker?.highest ?? 0, missing: tracker?.missing() ?? 0 });
  });

  /** Pushes (or resets) a config and answers: 202 at once, or with `wait` the edge's report (504 without one). */
  const push = async (
    c: Context,
    edgeId: string,
    body: { config: RuntimeConfigPatch; wait?: boolean | undefined; timeoutMs?: number | undefined },
    options: { version?: number | undefined; resetFrom?: number | undefined },
  ) => {
    const timeoutMs = body.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const claimed = await backend.logic.pushConfig(edgeId, body.config, {
      ...options,
      waitMs: body.wait ? timeoutMs : undefined,
    });
    if (!claimed.ok)
      throw new HttpError(
        409,
        'CONFLICT',
        claimed.current >= MAX_CONFIG_VERSION
          ? `${edgeId} is at version ${claimed.current}, the last there is (${MAX_CONFIG_VERSION}): recover it with POST /edges/${edgeId}/config-reset`
          : `version must be greater than ${claimed.current}, the last one pushed to ${edgeId}, and at most ${MAX_CONFIG_VERSION}`,
      );
    if (!body.wait) return c.json({ version: claimed.version }, 202);
    const reported = claimed.reported;
    if (!reported)
      return c.json(
        {
          version: claimed.version,
          error: {
            code: 'TIMEOUT',
            message: `no config/reported for version ${claimed.version} within ${timeoutMs} ms`,
          },
        },
        504,
      );
    return c.json({ version: claimed.version, reported });
  };

  app.post('/:edgeId/config', async (c) => {
    // A typo'd edge id is a 404 now, not a 202 that waits on a retained topic nobody reads.
    const edgeId = knownEdge(c);
    const body = await readBody(c, ConfigPushBody);
    return push(c, edgeId, body, { version: body.version });
  });

  app.post('/:edgeId/config-reset', async (c) => {
    const edgeId = knownEdge(c);
    const body = await readBody(c, ConfigResetBody);
    const reported = ConfigReported.safeParse(backend.logic.book.get(edgeId)?.lastConfigReported);
    const resetFrom = body.resetFrom ?? (reported.success ? reported.data.version : undefined);
    if (resetFrom === undefined)
      throw new HttpError(
        409,
        'CONFLICT',
        `${edgeId} has not reported its config version to this site server: give "resetFrom" (the version it holds, see its status)`,
      );
    return push(c, edgeId, body, { version: body.version, resetFrom });
  });

  app.post('/:edgeId/commands', async (c) => {
    const edgeId = knownEdge(c);
    const { timeoutMs = DEFAULT_TIMEOUT_MS, ...command } = await readBody(c, CommandBody);
    // Already expired: the edge would only answer EXPIRED, so say so now instead of making the caller wait.
    if (command.expiresAt && Date.parse(command.expiresAt) <= Date.now())
      throw new HttpError(400, 'VALIDATION_ERROR', `expiresAt ${command.expiresAt} is already past`);
    const { id, result } = await backend.logic.sendCommand(edgeId, command, timeoutMs);
    if (!result)
      return c.json({ id, error: { code: 'TIMEOUT', message: `no cmd/result within ${timeoutMs} ms` } }, 504);
    return c.json({ id, result });
  });

  app.post('/:edgeId/raw', async (c) => {
    const edgeId = knownEdge(c);
    const body = await readBody(c, RawPublishBody);
    const bytes = Buffer.byteLength(body.payload);
    const payload =
      body.padToBytes && body.padToBytes > bytes ? body.payload + ' '.repeat(body.padToBytes - bytes) : body.payload;
    const size = Buffer.byteLength(payload);
    // Refused here, before it reaches the site logic's client: the broker would cut that client for it.
    if (size > backend.logic.maxPayloadBytes)
      throw new HttpError(
        413,
        'PAYLOAD_TOO_LARGE',
        `${size} bytes exceed this site server's --max-payload-bytes (${backend.logic.maxPayloadBytes}); ` +
          'to send an edge more than its own limit, start the site server with a larger --max-payload-bytes',
      );
    await backend.logic.publishRaw(edgeId, body.channel, payload, body.retain);
    return c.json({ published: true, channel: body.channel, bytes: size }, 202);
  });

  return app;
}
