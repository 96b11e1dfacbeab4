/**
 * Composes the hono app: Date header outermost (so even errors and faults carry it), then faults, then the body
 * cap (except for a release upload, which streams to disk under a cap of its own), then the routes. Exported as a
 * plain app so tests can call `app.request()` without a socket.
 */
import { Hono } from 'hono';
import type { CloudDeps, CloudEnv } from './context.js';
import { HttpError } from '../../common/http/http-error.js';
import { createErrorHandler } from './errors.js';
import { capBody } from './middleware/body.js';
import { dateHeader } from './middleware/date.js';
import { injectFaults } from './middleware/faults.js';
import { authRoutes } from './routes/auth.js';
import { campaignRoutes } from './routes/campaigns.js';
import { siteCampaignRoutes } from './routes/site-campaigns.js';
import { edgeTokenRoutes } from './routes/edge-token.js';
import { edgeRoutes } from './routes/edges.js';
import { jwksRoutes } from './routes/jwks.js';
import { licenceBindingRoutes } from './routes/licence-bindings.js';
import { licenceRoutes } from './routes/licences.js';
import { mockControlRoutes } from './routes/mock-control.js';
import { organisationRoutes } from './routes/organisations.js';
import { pairingCodeRoutes } from './routes/pairing-codes.js';
import { registerEdgeRoutes } from './routes/register-edge.js';
import { isReleaseUpload, releaseRoutes } from './routes/releases.js';
import { serverRegistrationRoutes } from './routes/server-registration.js';
import { siteRoutes } from './routes/sites.js';

export function createApp(deps: CloudDeps): Hono<CloudEnv> {
  const app = new Hono<CloudEnv>();
  app.use('*', dateHeader(deps.clock));
  app.use('*', injectFaults(deps.faults));
  const cappedBody = capBody();
  app.use('*', (c, next) => (isReleaseUpload(c) ? next() : cappedBody(c, next)));
  for (const routes of [
    authRoutes,
    organisationRoutes,
    siteRoutes,
    serverRegistrationRoutes,
    pairingCodeRoutes,
    registerEdgeRoutes,
    edgeTokenRoutes,
    edgeRoutes,
    licenceRoutes,
    licenceBindingRoutes,
    releaseRoutes,
    campaignRoutes,
    siteCampaignRoutes,
    jwksRoutes,
    mockControlRoutes,
  ]) {
    app.route('/', routes(deps));
  }
  app.notFound(() => {
    throw HttpError.notFound('route');
  });
  app.onError(createErrorHandler(deps.logger));
  return app;
}
