/**
 * `POST …/sites/{siteId}/register-server`, as the seed shows it (200 with a long-lived site token). The endpoints
 * given (or derived from the host name, CONTRACT §2) are what later register-edge and token-refresh answers hand
 * to edges. Who may do what (issue 12 item 9, issue 17):
 *
 * - the first registration, or replacing the registered server: an admin+ access token, or a site-server pairing
 *   code (only an admin+ can mint one). An edge code never registers a server. Replacing retires the old site
 *   token: the old server hears `SITE_SERVER_REPLACED` on its next call.
 * - the registered server moving (new address, port or CA): its own current site token, for the same hardware id.
 *   The token stays the same, so a lost answer cannot leave the server holding a retired token.
 */
import { randomUUID } from 'node:crypto';
import type { Context } from 'hono';
import { Hono } from 'hono';
import { CLOUD_ROUTES, RegisterServerRequest, type RegisterServerResponse } from '../../../protocol/index.js';
import type { CloudDeps, CloudEnv } from '../context.js';
import { HttpError } from '../../../common/http/http-error.js';
import { bearerOf } from '../middleware/auth.js';
import { readJson, readParams } from '../middleware/body.js';
import { isSiteToken } from '../middleware/site-token.js';
import { defaultServerEndpoints } from '../site-connection.js';
import { findServer, upsertServer, type ServerRow } from '../store/servers.js';
import { findLiveSite, setSiteStatus } from '../store/sites.js';
import { SiteParams } from './params.js';
import { claimPairingCode, siteCredential, type SiteCredential } from './site-credential.js';

/** The seed's value; the mock has no clustering of its own. */
const CLUSTERING_MODE = 'AdoNet';

type ServerCredential = SiteCredential | { kind: 'site-token'; token: string; jti: string };

/** A registered server's own token, accepted only while it is the current registration's. */
async function serverCredential(deps: CloudDeps, c: Context, orgId: string, siteId: string): Promise<ServerCredential> {
  const bearer = bearerOf(c);
  if (isSiteToken(bearer)) {
    const claims = await deps.tokens.verifySiteToken(bearer);
    if (claims.sub !== siteId || claims.org !== orgId) throw HttpError.forbidden('this site token is for another site');
    return { kind: 'site-token', token: bearer, jti: claims.jti };
  }
  const credential = await siteCredential(deps, c, orgId, siteId, 'admin');
  if (credential.kind === 'code' && credential.code.purpose !== 'server')
    throw HttpError.forbidden(
      'this pairing code is for an edge, not a site server; an admin can mint a site-server code (purpose "server")',
    );
  return credential;
}

/** Inside the write transaction: may this credential write this registration over `current`? */
function assertMayRegister(
  credential: ServerCredential,
  current: ServerRow | undefined,
  hardwareId: string,
): 'self-update' | 'first' | 'replace' {
  const live = current && !current.revokedAt ? current : undefined;
  if (credential.kind !== 'site-token') return live ? 'replace' : 'first';
  if (!live || live.tokenJti !== credential.jti)
    throw new HttpError(
      401,
      'SITE_SERVER_REPLACED',
      'this site server is no longer the registered one for its site; an admin must register it again',
    );
  if (live.hardwareId !== hardwareId)
    throw HttpError.forbidden(
      'a site token updates only its own server; a new server needs an admin or a site-server pairing code',
    );
  return 'self-update';
}

export function serverRegistrationRoutes(deps: CloudDeps): Hono<CloudEnv> {
  const { db } = deps;
  return new Hono<CloudEnv>().post(CLOUD_ROUTES.registerServer, async (c) => {
    const { orgId, siteId } = readParams(c, SiteParams);
    const credential = await serverCredential(deps, c, orgId, siteId);
    const body = await readJson(c, RegisterServerRequest);
    if (!findLiveSite(db, orgId, siteId)) throw HttpError.notFound('site');

    const newJti = randomUUID();
    const newToken = await deps.tokens.signSiteToken({ sub: siteId, org: orgId, typ: 'site', jti: newJti });
    const endpoints = body.endpoints ?? defaultServerEndpoints(body.hostname);
    const kind = db.transaction(() => {
      if (!findLiveSite(db, orgId, siteId)) throw HttpError.notFound('site');
      const current = findServer(db, siteId);
      const kind = assertMayRegister(credential, current, body.hardwareId);
      if (credential.kind === 'code') claimPairingCode(deps, credential.code);
      upsertServer(db, {
        siteId,
        hardwareId: body.hardwareId,
        version: body.version,
        hostname: body.hostname,
        apiUrl: endpoints.api,
        mqttUrl: endpoints.mqtt,
        mqttCaPem: body.endpoints?.caCertificatePem ?? null,
        tokenJti: kind === 'self-update' ? current!.tokenJti : newJti,
        // A replaced server's key goes with it; a server updating itself without a key keeps the one it gave.
        signingKey: body.signingKey ?? (kind === 'self-update' ? current!.signingKey : null),
        registeredAt: deps.clock.iso(),
        revokedAt: null,
      });
      setSiteStatus(db, siteId, 'online');
      return kind;
    });
    deps.logger.info(kind === 'replace' ? 'server_replaced' : 'server_registered', {
      orgId,
      siteId,
      hostname: body.hostname,
      mqtt: endpoints.mqtt,
      by: credential.kind,
      ...(kind === 'self-update' ? { update: true } : {}),
    });
    const siteToken = credential.kind === 'site-token' ? credential.token : newToken;
    const response: RegisterServerResponse = { siteToken, config: { orgId, siteId, clusteringMode: CLUSTERING_MODE } };
    return c.json(response, 200);
  });
}
