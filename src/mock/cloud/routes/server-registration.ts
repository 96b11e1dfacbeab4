/**
 * `POST …/sites/{siteId}/register-server`, as the seed shows it (200 with a long-lived site token). Registering
 * again replaces the registration and its token; the endpoints given (or derived from the host name, CONTRACT
 * §2) are what later register-edge responses hand to edges.
 */
import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { RegisterServerRequest, type RegisterServerResponse, CLOUD_ROUTES } from '../../../protocol/index.js';
import type { CloudDeps, CloudEnv } from '../context.js';
import { HttpError } from '../../../common/http/http-error.js';
import { readJson, readParams } from '../middleware/body.js';
import { upsertServer } from '../store/servers.js';
import { findLiveSite, setSiteStatus } from '../store/sites.js';
import { SiteParams } from './params.js';
import { claimPairingCode, siteCredential } from './site-credential.js';

/** The seed's value; the mock has no clustering of its own. */
const CLUSTERING_MODE = 'AdoNet';

export const defaultServerEndpoints = (hostname: string) => ({
  api: `https://${hostname}:5000`,
  mqtt: `mqtts://${hostname}:8883`,
});

export function serverRegistrationRoutes(deps: CloudDeps): Hono<CloudEnv> {
  const { db } = deps;
  return new Hono<CloudEnv>().post(CLOUD_ROUTES.registerServer, async (c) => {
    const { orgId, siteId } = readParams(c, SiteParams);
    const credential = await siteCredential(deps, c, orgId, siteId, 'admin');
    if (credential.kind === 'code' && credential.code.edgeId)
      throw HttpError.forbidden(`this pairing code is for the edge ${credential.code.edgeId}, not a site server`);
    const body = await readJson(c, RegisterServerRequest);
    if (!findLiveSite(db, orgId, siteId)) throw HttpError.notFound('site');

    const jti = randomUUID();
    const siteToken = await deps.tokens.signSiteToken({ sub: siteId, org: orgId, typ: 'site', jti });
    const endpoints = body.endpoints ?? defaultServerEndpoints(body.hostname);
    db.transaction(() => {
      if (!findLiveSite(db, orgId, siteId)) throw HttpError.notFound('site');
      if (credential.kind === 'code') claimPairingCode(deps, credential.code);
      upsertServer(db, {
        siteId,
        hardwareId: body.hardwareId,
        version: body.version,
        hostname: body.hostname,
        apiUrl: endpoints.api,
        mqttUrl: endpoints.mqtt,
        mqttCaPem: body.endpoints?.caCertificatePem ?? null,
        tokenJti: jti,
        registeredAt: deps.clock.iso(),
        revokedAt: null,
      });
      setSiteStatus(db, siteId, 'online');
    });
    deps.logger.info('server_registered', { orgId, siteId, hostname: body.hostname, by: credential.kind });
    const response: RegisterServerResponse = { siteToken, config: { orgId, siteId, clusteringMode: CLUSTERING_MODE } };
    return c.json(response, 200);
  });
}
