/**
 * `POST …/sites/{siteId}/register-edge` with every rule of CONTRACT §3, and the licence rules of issue 15 (the key
 * must be the organisation's; a site server may relay an edge that brought one, with its site token). The edge
 * token is signed first (signing is async); then one transaction decides and commits everything: idempotent
 * replay, code use, edge id and licence rules, the re-pair revocation, the new registration, the licence binding
 * and the stored response. A refusal anywhere rolls all of it back, so neither code nor key is burned by a failed
 * request.
 */
import { randomUUID } from 'node:crypto';
import { type Context, Hono } from 'hono';
import { calculateJwkThumbprint } from 'jose';
import { z } from 'zod';
import {
  IDEMPOTENCY_KEY_HEADER,
  RegisterEdgeRequest,
  newEdgeConfig,
  type RegisterEdgeResponse,
  CLOUD_ROUTES,
} from '../../../protocol/index.js';
import type { CloudDeps, CloudEnv } from '../context.js';
import { HttpError } from '../../../common/http/http-error.js';
import { bearerOf } from '../middleware/auth.js';
import { readJson, readParams } from '../middleware/body.js';
import { authenticateSiteServer, isSiteToken } from '../middleware/site-token.js';
import { requestFingerprint } from '../request-fingerprint.js';
import { currentSiteConnection } from '../site-connection.js';
import { findActiveEdgeByEdgeId, findEdgeByUuid, insertEdge, revokeHardwareInSite } from '../store/edges.js';
import { findIdempotencyRecord, saveIdempotencyRecord } from '../store/idempotency.js';
import { bindLicence, findLicence } from '../store/licences.js';
import { findLiveSite, type SiteRow } from '../store/sites.js';
import { SiteParams } from './params.js';
import { claimPairingCode, type SiteCredential, siteCredential } from './site-credential.js';

const IdempotencyKey = z.uuid();

type EdgeCredential = SiteCredential | { kind: 'site-token'; fingerprint: string };

export function registerEdgeRoutes(deps: CloudDeps): Hono<CloudEnv> {
  const { db } = deps;
  return new Hono<CloudEnv>().post(CLOUD_ROUTES.registerEdge, async (c) => {
    const { orgId, siteId } = readParams(c, SiteParams);
    const credential = await edgeCredential(deps, c, orgId, siteId);
    const key = parseIdempotencyKey(c.req.header(IDEMPOTENCY_KEY_HEADER));
    const body = await readJson(c, RegisterEdgeRequest);
    if (credential.kind === 'site-token' && !body.licenceKey)
      throw HttpError.forbidden('a site server registers an edge only with the edge licence key it was given');
    if (!findLiveSite(db, orgId, siteId)) throw HttpError.notFound('site');

    const fingerprint = requestFingerprint(orgId, siteId, credential.fingerprint, body);
    const id = randomUUID();
    const edgeToken = await deps.tokens.signEdgeToken({
      sub: id,
      edge: body.edgeId,
      site: siteId,
      org: orgId,
      hw: body.hardwareId,
      cnf: { jkt: await calculateJwkThumbprint(body.publicKey) },
    });

    const outcome = db.transaction((): { replayed: boolean; response: RegisterEdgeResponse } => {
      const replayed = replayOf(deps, key, fingerprint);
      if (replayed) return { replayed: true, response: replayed };
      const site = findLiveSite(db, orgId, siteId);
      if (!site) throw HttpError.notFound('site');
      enforceRegistrationRules(deps, credential, site, body);
      return { replayed: false, response: register(deps, { id, site, body, edgeToken, key, fingerprint }) };
    });

    deps.logger.info(outcome.replayed ? 'edge_registration_replayed' : 'edge_registered', {
      orgId,
      siteId,
      edgeId: body.edgeId,
      edgeUuid: outcome.response.id,
      by: credential.kind,
    });
    return c.json(outcome.response, 201);
  });
}

/**
 * A pairing code, an engineer+ access token, or (issue 15) the site's own site token: a site server relaying the
 * registration of an edge that came to it with a licence key, which is then the edge's credential.
 */
async function edgeCredential(deps: CloudDeps, c: Context, orgId: string, siteId: string): Promise<EdgeCredential> {
  const bearer = bearerOf(c);
  if (isSiteToken(bearer)) {
    await authenticateSiteServer(deps, bearer, orgId, siteId);
    return { kind: 'site-token', fingerprint: `site:${siteId}` };
  }
  const credential = await siteCredential(deps, c, orgId, siteId, 'engineer');
  if (credential.kind === 'code' && credential.code.purpose !== 'edge')
    throw HttpError.forbidden('this pairing code registers a site server, not an edge; ask for an edge pairing code');
  return credential;
}

function parseIdempotencyKey(header: string | undefined): string {
  const key = IdempotencyKey.safeParse(header);
  if (!key.success)
    throw new HttpError(400, 'VALIDATION_ERROR', `the ${IDEMPOTENCY_KEY_HEADER} header must be a UUID`, [
      { field: IDEMPOTENCY_KEY_HEADER, message: 'a UUID is required' },
    ]);
  return key.data;
}

/** The stored answer when this key was used before: only for the same request, and never a revoked one. */
function replayOf(deps: CloudDeps, key: string, fingerprint: string): RegisterEdgeResponse | undefined {
  const previous = findIdempotencyRecord(deps.db, key, deps.clock.nowMs());
  if (!previous) return undefined;
  if (previous.fingerprint !== fingerprint)
    throw new HttpError(
      409,
      'IDEMPOTENCY_MISMATCH',
      `this ${IDEMPOTENCY_KEY_HEADER} was used with a different request`,
    );
  const replayed = JSON.parse(previous.response) as RegisterEdgeResponse;
  // A replay must not hand out a token its registration has since lost.
  if (findEdgeByUuid(deps.db, replayed.id)?.revokedAt)
    throw HttpError.unauthenticated(
      'this registration has been revoked since; pair again with a new code',
      'EDGE_REVOKED',
    );
  return replayed;
}

/**
 * Uses the pairing code, then refuses an edge id the code is not for or taken by another device, and a licence
 * key that is not the organisation's or is bound to other hardware.
 */
function enforceRegistrationRules(
  deps: CloudDeps,
  credential: EdgeCredential,
  site: SiteRow,
  body: RegisterEdgeRequest,
): void {
  const { db } = deps;
  if (credential.kind === 'code') {
    claimPairingCode(deps, credential.code);
    if (credential.code.edgeId && credential.code.edgeId !== body.edgeId) {
      throw new HttpError(403, 'FORBIDDEN', `this pairing code is for the edge ${credential.code.edgeId}`, [
        { field: 'edgeId', message: `must be ${credential.code.edgeId}` },
      ]);
    }
  }
  const holder = findActiveEdgeByEdgeId(db, site.id, body.edgeId);
  if (holder && holder.hardwareId !== body.hardwareId)
    throw new HttpError(409, 'EDGE_ID_TAKEN', `the edge id ${body.edgeId} belongs to another device at this site`, [
      { field: 'edgeId', message: 'taken' },
    ]);
  if (body.licenceKey) assertLicenceUsable(deps, site.orgId, body.licenceKey, body.hardwareId);
}

/** Another organisation's key is as unknown as a made-up one: the answer must not tell them apart. */
function assertLicenceUsable(deps: CloudDeps, orgId: string, licenceKey: string, hardwareId: string): void {
  const licence = findLicence(deps.db, licenceKey);
  if (!licence || licence.orgId !== orgId)
    throw new HttpError(403, 'LICENCE_INVALID', "the licence key is not one of this organisation's edge licences", [
      { field: 'licenceKey', message: 'unknown licence key' },
    ]);
  if (licence.binding && licence.binding.hardwareId !== hardwareId)
    throw new HttpError(409, 'LICENCE_BOUND', 'the licence key is bound to another device', [
      { field: 'licenceKey', message: 'bound to another device' },
    ]);
}

/** Revokes the device's earlier registrations at the site, saves the new one and stores the answer for replays. */
function register(
  deps: CloudDeps,
  r: { id: string; site: SiteRow; body: RegisterEdgeRequest; edgeToken: string; key: string; fingerprint: string },
): RegisterEdgeResponse {
  const { db } = deps;
  const { id, site, body } = r;
  const now = deps.clock.iso();
  // A device reset pairs again: its earlier registrations (and so all their tokens) are revoked.
  revokeHardwareInSite(db, site.id, body.hardwareId, now);
  insertEdge(db, {
    id,
    orgId: site.orgId,
    siteId: site.id,
    edgeId: body.edgeId,
    hardwareId: body.hardwareId,
    version: body.version,
    hostname: body.hostname,
    publicJwk: body.publicKey,
    registeredAt: now,
    revokedAt: null,
  });
  if (body.licenceKey)
    bindLicence(db, body.licenceKey, {
      edgeId: body.edgeId,
      siteId: site.id,
      hardwareId: body.hardwareId,
      boundAt: now,
      via: 'cloud',
    });
  const response: RegisterEdgeResponse = {
    id,
    edgeId: body.edgeId,
    orgId: site.orgId,
    siteId: site.id,
    edgeToken: r.edgeToken,
    serverTime: now,
    config: newEdgeConfig(currentSiteConnection(deps.db, site), site.id, body.edgeId),
  };
  saveIdempotencyRecord(db, {
    key: r.key,
    fingerprint: r.fingerprint,
    status: 201,
    response: JSON.stringify(response),
    createdAt: now,
  });
  return response;
}
