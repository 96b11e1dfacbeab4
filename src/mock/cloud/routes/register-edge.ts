/**
 * `POST …/sites/{siteId}/register-edge` with every rule of CONTRACT §3. The edge token is signed first (signing
 * is async); then one transaction decides and commits everything: idempotent replay, code use, edge id and
 * licence rules, the re-pair revocation, the new registration and the stored response. A refusal anywhere
 * rolls all of it back, so the code is never burned by a failed request.
 */
import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { calculateJwkThumbprint } from 'jose';
import { z } from 'zod';
import {
  IDEMPOTENCY_KEY_HEADER,
  RegisterEdgeRequest,
  edgeTopicPrefix,
  type EdgeConfig,
  type RegisterEdgeResponse,
  CLOUD_ROUTES,
} from '../../../protocol/index.js';
import type { CloudDeps, CloudEnv } from '../context.js';
import { HttpError } from '../../../common/http/http-error.js';
import { readJson, readParams } from '../middleware/body.js';
import { requestFingerprint } from '../request-fingerprint.js';
import { currentSiteConnection } from '../site-connection.js';
import { findActiveEdgeByEdgeId, findEdgeByUuid, insertEdge, revokeHardwareInSite } from '../store/edges.js';
import { findIdempotencyRecord, saveIdempotencyRecord } from '../store/idempotency.js';
import { bindLicence, licenceHolder } from '../store/licences.js';
import { findLiveSite, type SiteRow } from '../store/sites.js';
import { SiteParams } from './params.js';
import { claimPairingCode, siteCredential } from './site-credential.js';

const IdempotencyKey = z.uuid();

/** Defaults every edge starts with; the site server may change them later over `P/config`. */
const EDGE_DEFAULTS = {
  heartbeatSeconds: 30,
  keepaliveSeconds: 30,
  buffer: { retentionDays: 7, maxSizeMb: 1024 },
} as const;

function edgeConfig(deps: CloudDeps, site: SiteRow, edgeId: string): EdgeConfig {
  const connection = currentSiteConnection(deps.db, site);
  return {
    siteServer: {
      url: connection.url,
      mqtt: {
        ...connection.mqtt,
        topicPrefix: edgeTopicPrefix(site.id, edgeId),
        keepaliveSeconds: EDGE_DEFAULTS.keepaliveSeconds,
      },
    },
    heartbeatSeconds: EDGE_DEFAULTS.heartbeatSeconds,
    buffer: { ...EDGE_DEFAULTS.buffer },
  };
}

export function registerEdgeRoutes(deps: CloudDeps): Hono<CloudEnv> {
  const { db } = deps;
  return new Hono<CloudEnv>().post(CLOUD_ROUTES.registerEdge, async (c) => {
    const { orgId, siteId } = readParams(c, SiteParams);
    const credential = await siteCredential(deps, c, orgId, siteId, 'engineer');
    if (credential.kind === 'code' && credential.code.purpose !== 'edge')
      throw HttpError.forbidden('this pairing code registers a site server, not an edge; ask for an edge pairing code');
    const key = IdempotencyKey.safeParse(c.req.header(IDEMPOTENCY_KEY_HEADER));
    if (!key.success)
      throw new HttpError(400, 'VALIDATION_ERROR', `the ${IDEMPOTENCY_KEY_HEADER} header must be a UUID`, [
        { field: IDEMPOTENCY_KEY_HEADER, message: 'a UUID is required' },
      ]);
    const body = await readJson(c, RegisterEdgeRequest);
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
      const previous = findIdempotencyRecord(db, key.data, deps.clock.nowMs());
      if (previous) {
        if (previous.fingerprint !== fingerprint)
          throw new HttpError(
            409,
            'IDEMPOTENCY_MISMATCH',
            `this ${IDEMPOTENCY_KEY_HEADER} was used with a different request`,
          );
        const replayed = JSON.parse(previous.response) as RegisterEdgeResponse;
        // A replay must not hand out a token its registration has since lost.
        if (findEdgeByUuid(db, replayed.id)?.revokedAt)
          throw HttpError.unauthenticated(
            'this registration has been revoked since; pair again with a new code',
            'EDGE_REVOKED',
          );
        return { replayed: true, response: replayed };
      }
      const site = findLiveSite(db, orgId, siteId);
      if (!site) throw HttpError.notFound('site');
      if (credential.kind === 'code') {
        claimPairingCode(deps, credential.code);
        if (credential.code.edgeId && credential.code.edgeId !== body.edgeId) {
          throw new HttpError(403, 'FORBIDDEN', `this pairing code is for the edge ${credential.code.edgeId}`, [
            { field: 'edgeId', message: `must be ${credential.code.edgeId}` },
          ]);
        }
      }
      const holder = findActiveEdgeByEdgeId(db, siteId, body.edgeId);
      if (holder && holder.hardwareId !== body.hardwareId)
        throw new HttpError(409, 'EDGE_ID_TAKEN', `the edge id ${body.edgeId} belongs to another device at this site`, [
          { field: 'edgeId', message: 'taken' },
        ]);
      if (body.licenceKey) {
        const bound = licenceHolder(db, body.licenceKey);
        if (bound && bound !== body.hardwareId)
          throw new HttpError(409, 'LICENCE_BOUND', 'the licence key is bound to another device', [
            { field: 'licenceKey', message: 'bound to another device' },
          ]);
      }

      const now = deps.clock.iso();
      // A device reset pairs again: its earlier registrations (and so all their tokens) are revoked.
      revokeHardwareInSite(db, siteId, body.hardwareId, now);
      insertEdge(db, {
        id,
        orgId,
        siteId,
        edgeId: body.edgeId,
        hardwareId: body.hardwareId,
        version: body.version,
        hostname: body.hostname,
        publicJwk: body.publicKey,
        registeredAt: now,
        revokedAt: null,
      });
      if (body.licenceKey) bindLicence(db, body.licenceKey, body.hardwareId, now);
      const response: RegisterEdgeResponse = {
        id,
        edgeId: body.edgeId,
        orgId,
        siteId,
        edgeToken,
        serverTime: now,
        config: edgeConfig(deps, site, body.edgeId),
      };
      saveIdempotencyRecord(db, {
        key: key.data,
        fingerprint,
        status: 201,
        response: JSON.stringify(response),
        createdAt: now,
      });
      return { replayed: false, response };
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
