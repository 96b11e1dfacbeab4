/**
 * Support bundles (issue 14). The control API asks an edge for one (`POST /edges/{id}/support-bundle`: an upload
 * slot, then the `support-bundle` command naming its URL), lists and downloads what arrived. The edge uploads to
 * `PUT /uploads/support-bundles/{slot}` with its edge token: checked like a CONNECT password, for the slot's
 * edge only; the URL is single use and expires; the size cap is enforced while the body streams in.
 */
import type { Context } from 'hono';
import { Hono } from 'hono';
import { z } from 'zod';
import { Duration, EdgeId, MAX_SUPPORT_BUNDLE_BYTES } from '../../../protocol/index.js';
import type { AuthDecision } from '../broker/edge-auth.js';
import type { SiteLogic } from '../site/site-logic.js';
import { describeBundle, sha256Hex, type SupportBundles } from '../site/support-bundles.js';
import { HttpError } from '../../../common/http/http-error.js';
import { parseOrThrow, readBody } from './errors.js';

export interface SupportBundleBackend {
  logic: SiteLogic;
  bundles: SupportBundles;
  /** Base URL edges reach this server's HTTP listener at (`http://<public host>:<port>`). */
  httpUrl: string;
  /** Verifies an edge token as the broker does at CONNECT. */
  verifyEdgeToken(edgeId: string, token: string): Promise<AuthDecision>;
}

export const UPLOAD_PATH = '/uploads/support-bundles';
const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;

export const SupportBundleRequest = z.strictObject({
  since: Duration.optional(),
  maxBytes: z.number().int().min(1024).max(MAX_SUPPORT_BUNDLE_BYTES).default(DEFAULT_MAX_BYTES),
  /** How long the upload URL stays valid. */
  ttlSeconds: z.number().int().min(10).max(3600).default(300),
  /** How long to wait for the edge's result. */
  timeoutMs: z.number().int().min(1).max(600_000).default(60_000),
});

function edgeParam(raw: string): string {
  return parseOrThrow(z.object({ edgeId: EdgeId }), { edgeId: raw }).edgeId;
}

/** The body, read chunk by chunk and abandoned as soon as it passes `maxBytes`. */
async function readCapped(c: Context, maxBytes: number): Promise<Buffer> {
  const tooLarge = () => new HttpError(413, 'PAYLOAD_TOO_LARGE', `this upload is limited to ${maxBytes} bytes`);
  if (Number(c.req.header('content-length') ?? 0) > maxBytes) throw tooLarge();
  const body = c.req.raw.body;
  if (!body) return Buffer.alloc(0);
  const reader = body.getReader();
  const chunks: Buffer[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks);
}

/** Routes under `/edges` for the control API. */
export function supportBundleControlRoutes(backend: SupportBundleBackend): Hono {
  const app = new Hono();

  app.post('/:edgeId/support-bundle', async (c) => {
    const edgeId = edgeParam(c.req.param('edgeId'));
    const body = await readBody(c, SupportBundleRequest);
    const slot = backend.bundles.createSlot(edgeId, body.ttlSeconds * 1000, body.maxBytes);
    const uploadUrl = `${backend.httpUrl}${UPLOAD_PATH}/${slot.id}`;
    const { id, result } = await backend.logic.sendCommand(
      edgeId,
      {
        name: 'support-bundle',
        args: { uploadUrl, maxBytes: body.maxBytes, ...(body.since ? { since: body.since } : {}) },
        expiresAt: new Date(slot.expiresAtMs).toISOString(),
      },
      body.timeoutMs,
    );
    if (!result)
      return c.json(
        { id, uploadUrl, error: { code: 'TIMEOUT', message: `no cmd/result within ${body.timeoutMs} ms` } },
        504,
      );
    if (!result.ok)
      return c.json({ id, uploadUrl, result, error: { code: 'EDGE_FAILED', message: result.error.message } }, 502);
    const uploadId = (result.result as { upload?: { id?: unknown } } | undefined)?.upload?.id;
    const bundle = typeof uploadId === 'string' ? backend.bundles.get(edgeId, uploadId) : undefined;
    return c.json({ id, uploadUrl, result, bundle: bundle ? describeBundle(bundle) : null });
  });

  app.get('/:edgeId/support-bundles', (c) => {
    const edgeId = edgeParam(c.req.param('edgeId'));
    return c.json({ data: backend.bundles.list(edgeId).map(describeBundle) });
  });

  app.get('/:edgeId/support-bundles/:bundleId', (c) => {
    const edgeId = edgeParam(c.req.param('edgeId'));
    const bundle = backend.bundles.get(edgeId, c.req.param('bundleId'));
    if (!bundle) throw new HttpError(404, 'NOT_FOUND', `no support bundle ${c.req.param('bundleId').slice(0, 64)}`);
    return c.body(new Uint8Array(bundle.data), 200, {
      'content-type': 'application/gzip',
      'content-disposition': `attachment; filename="${edgeId}-${bundle.id}.tar.gz"`,
    });
  });

  return app;
}

/** The edge-facing upload route, authenticated by edge token (not by the control API's credentials). */
export function supportBundleUploadRoutes(backend: SupportBundleBackend): Hono {
  const app = new Hono();
  app.put('/:slotId', async (c) => {
    const token = /^Bearer (\S{1,8192})$/.exec(c.req.header('authorization') ?? '')?.[1];
    if (!token) throw new HttpError(401, 'INVALID_TOKEN', 'an edge token is required (Authorization: Bearer …)');
    const slotId = c.req.param('slotId');
    if (!/^[0-9a-f]{32}$/.test(slotId)) throw new HttpError(404, 'NOT_FOUND', 'no such upload URL');
    const claim = backend.bundles.peek(slotId);
    if (!claim.ok) throw new HttpError<string>(claim.status, claim.status === 404 ? 'NOT_FOUND' : 'GONE', claim.reason);
    const decision = await backend.verifyEdgeToken(claim.slot.edgeId, token);
    if (!decision.ok)
      throw new HttpError(
        decision.returnCode === 5 ? 403 : 401,
        decision.returnCode === 5 ? 'FORBIDDEN' : 'INVALID_TOKEN',
        `the edge token was refused: ${decision.reason}`,
      );
    const taken = backend.bundles.claim(slotId);
    if (!taken.ok) throw new HttpError<string>(taken.status, taken.status === 404 ? 'NOT_FOUND' : 'GONE', taken.reason);
    const data = await readCapped(c, taken.slot.maxBytes);
    const claimed = c.req.header('x-content-sha256');
    if (claimed && claimed !== sha256Hex(data))
      throw new HttpError(400, 'VALIDATION_ERROR', 'the body does not match its x-content-sha256');
    return c.json(describeBundle(backend.bundles.save(taken.slot.edgeId, data)), 201);
  });
  return app;
}
