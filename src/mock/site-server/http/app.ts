/**
 * The control API for rigs and technicians (HTTP + JSON). Routes live in one file per resource; this file
 * mounts them and renders every error in the contract's shape, so no route can leak a stack trace or a 500 page.
 * Every route but `/health` (a liveness probe that changes nothing) and the edges' routes (the support-bundle
 * upload and the update artifact, which authenticate by edge token; the upload caps its own body) needs the
 * control token; other bodies are capped at 64 KiB while they stream, so a body that never ends costs 64 KiB, not
 * memory without bound.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { requireControlToken } from '../../../common/http/control-token.js';
import type { Logger } from '../../../common/log/log.js';
import { MAX_REQUEST_BYTES } from '../../../protocol/index.js';
import type { EmbeddedBroker } from '../broker/embedded-broker.js';
import type { CloudStatusView } from '../upstream/cloud-status.js';
import { edgesRoutes, type EdgesBackend } from './edges-routes.js';
import { HttpError } from '../../../common/http/http-error.js';
import { errorResponse } from './errors.js';
import { faultsRoutes } from './faults-routes.js';
import type { LicenceBindingView } from '../edge-api/site-registry.js';
import {
  supportBundleControlRoutes,
  supportBundleUploadRoutes,
  UPLOAD_PATH,
  type SupportBundleBackend,
} from './support-bundle-routes.js';
import {
  artifactFaultRoutes,
  SITE_EDGE_PREFIX,
  updateArtifactRoutes,
  updatesControlRoutes,
  type UpdatesBackend,
} from './updates-routes.js';

export interface ControlApiBackend extends EdgesBackend, SupportBundleBackend, UpdatesBackend {
  mode: 'embedded' | 'external';
  broker?: EmbeddedBroker;
  siteId: string;
  mqttUrl: string;
  logger: Logger;
  cloudStatus: () => CloudStatusView;
  controlToken: string;
  /** The edge-facing API (issue 15): its URL, fingerprint, and whether it decides registrations itself now. */
  edge: { url: string; fingerprint: string; airGapped: () => boolean };
  licenceBindings: () => LicenceBindingView[];
}

/** `replaced` and `refused` need a person; an unreachable cloud does not (the site runs on its cached trust). */
function healthStatus(backend: ControlApiBackend): 'ok' | 'degraded' | 'replaced' {
  const cloud = backend.cloudStatus().state;
  if (cloud === 'replaced') return 'replaced';
  return backend.logic.connected && cloud !== 'refused' ? 'ok' : 'degraded';
}

export function controlApi(backend: ControlApiBackend): Hono {
  const app = new Hono();
  const isUpload = (path: string) => path.startsWith(`${UPLOAD_PATH}/`);
  const isEdgeRoute = (path: string) => isUpload(path) || path.startsWith(SITE_EDGE_PREFIX);
  app.use(requireControlToken(backend.controlToken, (path) => path === '/health' || isEdgeRoute(path)));
  const capBody = bodyLimit({
    maxSize: MAX_REQUEST_BYTES,
    // The rest of the body is never read, so the connection cannot carry another request: close it.
    onError: (c) =>
      c.json(
        { error: { code: 'PAYLOAD_TOO_LARGE', message: `bodies are limited to ${MAX_REQUEST_BYTES} bytes` } },
        413,
        { Connection: 'close' },
      ),
  });
  app.use((c, next) => (isEdgeRoute(c.req.path) ? next() : capBody(c, next)));

  app.get('/health', (c) => {
    const status = healthStatus(backend);
    return c.json(
      {
        status,
        broker: backend.mode,
        siteId: backend.siteId,
        mqttUrl: backend.mqttUrl,
        edgeUrl: backend.edge.url,
        fingerprint: backend.edge.fingerprint,
        mode: backend.edge.airGapped() ? 'air-gapped' : 'connected',
        siteClientConnected: backend.logic.connected,
        listener: backend.broker ? (backend.broker.listening ? 'running' : 'stopped') : null,
        trust: {
          jwksCached: backend.store.jwks() !== undefined,
          edgeListFetchedAt: backend.store.edgeListFetchedAt() ?? null,
        },
        cloud: backend.cloudStatus(),
      },
      status === 'ok' ? 200 : 503,
    );
  });

  app.route('/edges', edgesRoutes(backend));
  app.route('/edges', supportBundleControlRoutes(backend));
  // Edges, not operators, call this one: it is authenticated by edge token.
  app.route(UPLOAD_PATH, supportBundleUploadRoutes(backend));
  app.route('/', updateArtifactRoutes(backend));
  app.route('/updates', updatesControlRoutes(backend));
  app.route('/faults/update-artifact', artifactFaultRoutes(backend.artifactFaults));
  app.route(
    '/faults',
    faultsRoutes(backend.broker, () => backend.artifactFaults.reset()),
  );
  // Licences this server bound itself (air-gapped) and what the cloud said when they were reported.
  app.get('/licences', (c) => c.json({ data: backend.licenceBindings() }));

  app.notFound((c) => errorResponse(c, new HttpError(404, 'NOT_FOUND', `no route ${c.req.method} ${c.req.path}`)));
  app.onError((error, c) => {
    if (error instanceof HttpError) return errorResponse(c, error);
    backend.logger.error('control_api_failed', { method: c.req.method, path: c.req.path, error });
    return errorResponse(
      c,
      new HttpError(500, 'INTERNAL_ERROR', 'the site server failed to handle this request; see its log'),
    );
  });
  return app;
}
