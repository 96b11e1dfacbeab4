/**
 * The site server's edge-facing HTTPS API (issue 15): what edges call on the site server itself, on its own
 * listener (`--edge-port`, 5000 by default, as the platform documents). `identity` is public (a technician
 * compares its fingerprint, which the device checks on the TLS socket itself), `register` takes the licence key as
 * its credential, the rest the edge token or a device assertion. Every body but an upload is capped at 64 KiB
 * while it streams; every error is in the contract's shape.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HttpError } from '../../../common/http/http-error.js';
import type { Logger } from '../../../common/log/log.js';
import { MAX_REQUEST_BYTES, SITE_EDGE_ROUTES, type SiteIdentity } from '../../../protocol/index.js';
import { errorResponse } from '../http/errors.js';
import { supportBundleUploadRoutes, UPLOAD_PATH, type SupportBundleBackend } from '../http/support-bundle-routes.js';
import { updateArtifactRoutes, type UpdatesBackend } from '../http/updates-routes.js';
import { handleRegister, type RegisterBackend } from './register-route.js';
import { handleTokenRefresh, type TokenBackend } from './token-route.js';

export interface EdgeApiBackend extends RegisterBackend, TokenBackend {
  identity(): SiteIdentity;
  supportBundles: SupportBundleBackend;
  updates: UpdatesBackend;
}

const capBody = bodyLimit({
  maxSize: MAX_REQUEST_BYTES,
  onError: (c) =>
    c.json({ error: { code: 'PAYLOAD_TOO_LARGE', message: `bodies are limited to ${MAX_REQUEST_BYTES} bytes` } }, 413, {
      Connection: 'close',
    }),
});

/**
 * Every route an edge calls on the site server, in one place: a feature that adds one (the update artifact route)
 * adds it here, and it is served on the edge listener.
 */
export function mountEdgeRoutes(app: Hono, backend: EdgeApiBackend): void {
  app.get(SITE_EDGE_ROUTES.identity, (c) => c.json(backend.identity()));
  app.post(SITE_EDGE_ROUTES.register, capBody, (c) => handleRegister(c, backend));
  app.post(SITE_EDGE_ROUTES.token, capBody, (c) => handleTokenRefresh(c, backend));
  app.route(UPLOAD_PATH, supportBundleUploadRoutes(backend.supportBundles));
  app.route('/', updateArtifactRoutes(backend.updates));
}

export function edgeApi(backend: EdgeApiBackend & { logger: Logger }): Hono {
  const app = new Hono();
  mountEdgeRoutes(app, backend);
  app.notFound((c) => errorResponse(c, new HttpError(404, 'NOT_FOUND', `no route ${c.req.method} ${c.req.path}`)));
  app.onError((error, c) => {
    if (error instanceof HttpError) return errorResponse(c, error);
    backend.logger.error('edge_api_failed', { method: c.req.method, path: c.req.path, error });
    return errorResponse(
      c,
      new HttpError(500, 'INTERNAL_ERROR', 'the site server failed to handle this request; see its log'),
    );
  });
  return app;
}
