/**
 * Updates (issue 13) on the site server's HTTP listener:
 * - `GET SITE_EDGE_ROUTES.updateArtifact`, for edges: the campaign's artifact, authenticated by the edge token
 *   (checked as the broker checks a CONNECT password), with `Range`, streamed from the file;
 * - `GET /updates`, for the control API: the campaigns with each targeted edge's state;
 * - `/faults/update-artifact`: cut or throttle artifact downloads (HIL).
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { HttpBindings } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { decodeJwt } from 'jose';
import { z } from 'zod';
import { EdgeId, SITE_EDGE_ROUTES, Uuid } from '../../../protocol/index.js';
import { byteRangeHeaders, parseByteRange } from '../../../common/http/byte-range.js';
import { HttpError } from '../../../common/http/http-error.js';
import type { AuthDecision } from '../broker/edge-auth.js';
import type { ArtifactCache } from '../updates/artifact-cache.js';
import type { ArtifactFaults } from '../updates/artifact-faults.js';
import type { CampaignStore, EdgeUpdateState, StoredCampaign } from '../updates/campaign-store.js';
import type { UpdateDelivery } from '../updates/update-delivery.js';
import { readBody } from './errors.js';

export interface UpdatesBackend {
  campaigns: CampaignStore;
  artifacts: ArtifactCache;
  delivery: UpdateDelivery;
  artifactFaults: ArtifactFaults;
  /** Verifies an edge token as the broker does at CONNECT. */
  verifyEdgeToken(edgeId: string, token: string): Promise<AuthDecision>;
}

/** Every `SITE_EDGE_ROUTES` path starts here: edges' routes, outside the control token and the body cap. */
export const SITE_EDGE_PREFIX = '/api/edge/';

export const ArtifactFaultBody = z.strictObject({
  /** Cut the connection once this many bytes of a response were sent. */
  dropAfterBytes: z
    .number()
    .int()
    .min(0)
    .max(2 ** 32)
    .optional(),
  /** `once`: the next download only; `always`: every download until cleared. */
  mode: z.enum(['once', 'always']).default('once'),
  /** Send at most this many bytes a second. */
  bytesPerSecond: z
    .number()
    .int()
    .min(1)
    .max(2 ** 32)
    .optional(),
});

/** The edge a bearer token names, checked as a CONNECT password is: 401 without a valid one, 403 when refused. */
async function authenticatedEdge(c: Context, backend: UpdatesBackend): Promise<string> {
  const token = /^Bearer (\S{1,8192})$/.exec(c.req.header('authorization') ?? '')?.[1];
  if (!token) throw new HttpError(401, 'INVALID_TOKEN', 'an edge token is required (Authorization: Bearer …)');
  let edgeId: unknown;
  try {
    edgeId = decodeJwt(token).edge;
  } catch {
    edgeId = undefined;
  }
  if (!EdgeId.safeParse(edgeId).success) throw new HttpError(401, 'INVALID_TOKEN', 'the edge token is not valid');
  const decision = await backend.verifyEdgeToken(edgeId as string, token);
  if (!decision.ok)
    throw new HttpError(
      decision.returnCode === 5 ? 403 : 401,
      decision.returnCode === 5 ? 'FORBIDDEN' : 'INVALID_TOKEN',
      `the edge token was refused: ${decision.reason}`,
    );
  return edgeId as string;
}

/** The campaign an edge may download from, or the error that says why not. */
function downloadableCampaign(backend: UpdatesBackend, campaignId: string, edgeId: string): StoredCampaign {
  const campaign = Uuid.safeParse(campaignId).success ? backend.campaigns.campaign(campaignId) : undefined;
  if (!campaign) throw new HttpError(404, 'NOT_FOUND', 'no such update campaign');
  if (campaign.state === 'cancelled') throw new HttpError<string>(410, 'GONE', 'this update campaign was cancelled');
  if (!backend.delivery.isTargeted(campaign, edgeId))
    throw new HttpError(403, 'FORBIDDEN', `this update campaign does not target ${edgeId}`);
  if (campaign.artifactError || !campaign.release)
    throw new HttpError(404, 'NOT_FOUND', "this campaign's bundle was refused by the site server");
  return campaign;
}

export function updateArtifactRoutes(backend: UpdatesBackend): Hono<{ Bindings: Partial<HttpBindings> }> {
  const app = new Hono<{ Bindings: Partial<HttpBindings> }>();
  app.get(SITE_EDGE_ROUTES.updateArtifact, async (c) => {
    const edgeId = await authenticatedEdge(c, backend);
    const campaign = downloadableCampaign(backend, c.req.param('campaignId'), edgeId);
    const { sha256, size } = campaign.release!;
    if (!backend.artifacts.isReady(sha256))
      throw new HttpError<string>(503, 'UNAVAILABLE', 'the site server is still fetching this artifact', undefined, {
        'retry-after': '30',
      });
    const etag = `"${sha256}"`;
    const ifRange = c.req.header('if-range');
    const range = ifRange && ifRange !== etag ? { kind: 'full' as const } : parseByteRange(c.req.header('range'), size);
    const headers = {
      'accept-ranges': 'bytes',
      etag,
      'content-type': 'application/gzip',
      'cache-control': 'no-store',
      ...byteRangeHeaders(range, size),
    };
    if (range.kind === 'unsatisfiable') return c.body(null, 416, headers);
    const [start, end] = range.kind === 'partial' ? [range.start, range.end] : [0, size - 1];
    const file = createReadStream(backend.artifacts.path(sha256), { start, end });
    const faulty = backend.artifactFaults.forResponse(() => {
      c.env?.incoming?.socket.destroy();
      file.destroy();
    });
    const body = Readable.toWeb(file.pipe(faulty)) as ReadableStream<Uint8Array>;
    return c.body(body, range.kind === 'partial' ? 206 : 200, headers);
  });
  return app;
}

function edgeView(edgeId: string, state: EdgeUpdateState | undefined) {
  return {
    edgeId,
    state: state?.state ?? 'pending',
    progress: state?.progress ?? null,
    reason: state?.reason ?? null,
    runningVersion: state?.runningVersion ?? null,
    updatedAt: state?.at ?? null,
    offeredAt: state?.offeredAt ?? null,
    reportedToCloud: state ? !state.dirty : null,
  };
}

/** `GET /updates` on the control API. */
export function updatesControlRoutes(backend: UpdatesBackend): Hono {
  const app = new Hono();
  app.get('/', (c) => {
    const campaigns = backend.campaigns.campaigns().map((campaign) => {
      const states = new Map(backend.campaigns.edgeStates(campaign.id).map((s) => [s.edgeId, s]));
      const edgeIds = new Set([...backend.delivery.targets(campaign), ...states.keys()]);
      return {
        id: campaign.id,
        releaseId: campaign.releaseId,
        version: campaign.release?.version ?? null,
        sha256: campaign.release?.sha256 ?? null,
        size: campaign.release?.size ?? null,
        state: campaign.state,
        edges: campaign.edges,
        allowDowngrade: campaign.allowDowngrade,
        artifact: campaign.artifactError
          ? { state: 'refused', reason: campaign.artifactError }
          : { state: campaign.release && backend.artifacts.isReady(campaign.release.sha256) ? 'ready' : 'fetching' },
        firstSeenAt: campaign.firstSeenAt,
        cancelledAt: campaign.cancelledAt ?? null,
        progress: [...edgeIds].sort().map((edgeId) => edgeView(edgeId, states.get(edgeId))),
      };
    });
    return c.json({ campaigns });
  });
  return app;
}

/** `/faults/update-artifact`: works with either broker (it is the HTTP listener's fault). */
export function artifactFaultRoutes(faults: ArtifactFaults): Hono {
  const app = new Hono();
  app.get('/', (c) => c.json(faults.snapshot()));
  app.post('/', async (c) => {
    const body = await readBody(c, ArtifactFaultBody);
    faults.set(body);
    return c.json(faults.snapshot());
  });
  app.delete('/', (c) => {
    faults.reset();
    return c.json(faults.snapshot());
  });
  return app;
}
