/**
 * `POST SITE_EDGE_ROUTES.register` (issue 15): an edge registers with the site server and its licence key.
 * Connected, the site server forwards it to the cloud's register-edge with its site token and the same
 * Idempotency-Key, relays any refusal unchanged, and adds the cloud's key set from its trust cache so the edge
 * can verify the token through the site server it pinned. With the cloud unreachable (or `--offline`) and an
 * offline licence file, it decides itself: the key must be in the file, is bound to the first hardware for good
 * (the same hardware again is a re-registration), and the token is signed with the site server's own key.
 * A successful answer is kept by Idempotency-Key, so a replay after a lost answer or a power cut answers the
 * same and never binds twice; a different request under the same key is refused.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Context } from 'hono';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { z } from 'zod';
import { HttpError } from '../../../common/http/http-error.js';
import type { Logger } from '../../../common/log/log.js';
import {
  ErrorBody,
  IDEMPOTENCY_KEY_HEADER,
  REGISTRATION_OUTCOME_UNKNOWN,
  RegisterEdgeResponse,
  SiteRegisterRequest,
  SiteRegisterResponse,
  licenceHash,
  newEdgeConfig,
  siteConnectionHash,
  type SiteConnection,
} from '../../../protocol/index.js';
import { readBody } from '../http/errors.js';
import type { RelayedAnswer } from '../upstream/cloud-client.js';
import { CloudError, CloudOutcomeUnknownError } from '../upstream/cloud-client.js';
import type { OfflineLicence } from './offline-licence.js';
import type { SiteRegistry } from './site-registry.js';
import type { SiteTokens } from './site-tokens.js';

export interface RegisterBackend {
  orgId: string;
  siteId: string;
  registry: SiteRegistry;
  logger: Logger;
  /** Forwards to the cloud's register-edge; throws `CloudError` without a status when the cloud is unreachable. */
  relay(body: SiteRegisterRequest, idempotencyKey: string): Promise<RelayedAnswer>;
  /** The cloud's key set from the trust cache. */
  cloudJwks(): unknown;
  /** Air-gapped mode: present when `--licence-file` was given. */
  licence?: OfflineLicence;
  /** `--offline`: never ask the cloud, decide with the licence file. */
  offline: boolean;
  tokens: SiteTokens;
  /** Where this site server's edges connect (its edge API and broker). */
  connection(): SiteConnection;
}

const requestHash = (body: SiteRegisterRequest) => createHash('sha256').update(JSON.stringify(body)).digest('hex');

function idempotencyKeyOf(c: Context): string {
  const key = z.uuid().safeParse(c.req.header(IDEMPOTENCY_KEY_HEADER));
  if (!key.success)
    throw new HttpError(400, 'VALIDATION_ERROR', `${IDEMPOTENCY_KEY_HEADER} must be a UUID, the same for every retry`, [
      { field: IDEMPOTENCY_KEY_HEADER, message: 'required (a UUID)' },
    ]);
  return key.data;
}

export async function handleRegister(c: Context, backend: RegisterBackend): Promise<Response> {
  const key = idempotencyKeyOf(c);
  const body = await readBody(c, SiteRegisterRequest);
  const hash = requestHash(body);
  const replay = storedAnswer(backend, key, hash);
  if (replay) return c.json(replay, 201);

  if (!backend.offline) {
    try {
      const answer = await backend.relay(body, key);
      return relayed(c, backend, key, hash, body, answer);
    } catch (error) {
      if (!(error instanceof CloudError)) throw error;
      if (error instanceof CloudOutcomeUnknownError) throw outcomeUnknown(backend, body, error);
      if (error.status !== undefined) throw new HttpError<string>(502, 'UPSTREAM_ERROR', error.message);
      if (!backend.licence)
        throw new HttpError<string>(
          503,
          'CLOUD_UNREACHABLE',
          'the site server cannot reach the cloud and has no offline licence file: connect it to the cloud, or start it with --licence-file (exported by a site admin for this site)',
        );
      backend.logger.warn('registering_offline', { edgeId: body.edgeId, error: error.message });
    }
  }
  return c.json(await registerOffline(backend, key, hash, body), 201);
}

/** Seconds the edge is asked to wait before it asks again (the cloud's replay then answers). */
const OUTCOME_UNKNOWN_RETRY_AFTER_S = 5;

/**
 * The request reached the cloud but its answer did not reach us: the licence may be bound, so this is neither
 * "nothing is bound" nor a reason to decide offline (that could bind the key a second time). The edge keeps its
 * pending request and asks again with the same Idempotency-Key; the cloud's replay answers what it did.
 */
function outcomeUnknown(backend: RegisterBackend, body: SiteRegisterRequest, error: CloudError): HttpError<string> {
  backend.logger.warn('register_outcome_unknown', { edgeId: body.edgeId, error: error.message });
  return new HttpError<string>(
    504,
    REGISTRATION_OUTCOME_UNKNOWN,
    "the cloud's answer to this registration did not reach the site server, so the licence key may already be bound: send the same request again with the same Idempotency-Key",
    undefined,
    { 'Retry-After': String(OUTCOME_UNKNOWN_RETRY_AFTER_S) },
  );
}

function storedAnswer(backend: RegisterBackend, key: string, hash: string): unknown {
  const stored = backend.registry.answer(key);
  if (!stored) return undefined;
  if (stored.requestHash !== hash)
    throw new HttpError(
      409,
      'IDEMPOTENCY_MISMATCH',
      `this ${IDEMPOTENCY_KEY_HEADER} was used with a different request`,
    );
  // As the cloud does: a replay must not hand out a token whose registration was replaced since.
  const id = (stored.body as { id?: string }).id;
  if (id && backend.registry.registration(id)?.revokedAt)
    throw HttpError.unauthenticated(
      'this registration was replaced since; register again with a new Idempotency-Key',
      'EDGE_REVOKED',
    );
  return stored.body;
}

/** The cloud's answer: a success gets the key set and is kept; a refusal goes back as it came. */
function relayed(
  c: Context,
  backend: RegisterBackend,
  key: string,
  hash: string,
  body: SiteRegisterRequest,
  answer: RelayedAnswer,
): Response {
  if (answer.status !== 201 && answer.status !== 200) {
    if (!ErrorBody.safeParse(answer.body).success)
      throw new HttpError<string>(
        502,
        'UPSTREAM_ERROR',
        `the cloud answered register-edge with ${answer.status} and no error`,
      );
    return c.json(answer.body as object, answer.status as 400);
  }
  const registered = RegisterEdgeResponse.safeParse(answer.body);
  const jwks = backend.cloudJwks();
  const response = SiteRegisterResponse.safeParse({ ...(registered.data ?? {}), issuer: 'cloud', jwks });
  if (!registered.success || !response.success)
    throw outcomeUnknown(
      backend,
      body,
      new CloudOutcomeUnknownError(`the cloud's ${answer.status} answer to register-edge is malformed`),
    );
  backend.registry.transaction(() => {
    if (!backend.registry.answer(key))
      backend.registry.saveAnswer(
        key,
        { requestHash: hash, status: 201, body: response.data },
        new Date().toISOString(),
      );
  });
  backend.logger.info('edge_registered_via_cloud', { edgeId: body.edgeId, edgeUuid: response.data.id });
  return c.json(response.data, 201);
}

async function registerOffline(
  backend: RegisterBackend,
  key: string,
  hash: string,
  body: SiteRegisterRequest,
): Promise<SiteRegisterResponse> {
  const { registry, licence } = backend;
  if (!licence) throw new Error('registerOffline needs a licence file');
  if (!licence.licenceHashes.has(licenceHash(licence.claims.site, body.licenceKey)))
    throw new HttpError(403, 'LICENCE_INVALID', "the licence key is not in this site's offline licence file", [
      { field: 'licenceKey', message: 'not licensed for this site' },
    ]);
  const checkRules = () => {
    const bound = registry.binding(body.licenceKey);
    if (bound && bound.hardwareId !== body.hardwareId)
      throw new HttpError(409, 'LICENCE_BOUND', 'the licence key is bound to another device', [
        { field: 'licenceKey', message: 'bound to another device' },
      ]);
    const holder = registry.activeRegistration(body.edgeId);
    if (holder && holder.hardwareId !== body.hardwareId)
      throw new HttpError(409, 'EDGE_ID_TAKEN', `the edge id ${body.edgeId} belongs to another device at this site`, [
        { field: 'edgeId', message: 'taken' },
      ]);
  };
  checkRules();

  // Signing is async, so it comes first; the transaction then checks again and commits everything or nothing.
  const uuid = randomUUID();
  const now = new Date();
  const connection = backend.connection();
  const edgeToken = await backend.tokens.sign(
    {
      sub: uuid,
      edge: body.edgeId,
      site: backend.siteId,
      org: backend.orgId,
      hw: body.hardwareId,
      cnf: { jkt: await calculateJwkThumbprint(body.publicKey as JWK) },
      cfg: siteConnectionHash(connection),
    },
    Math.floor(now.getTime() / 1000),
  );
  const response: SiteRegisterResponse = {
    id: uuid,
    edgeId: body.edgeId,
    orgId: backend.orgId,
    siteId: backend.siteId,
    edgeToken,
    serverTime: now.toISOString(),
    config: newEdgeConfig(connection, backend.siteId, body.edgeId),
    issuer: 'site',
    licence: licence.jws,
  };
  return registry.transaction(() => {
    const raced = storedAnswer(backend, key, hash);
    if (raced) return raced as SiteRegisterResponse;
    checkRules();
    registry.register(body.licenceKey, {
      uuid,
      edgeId: body.edgeId,
      hardwareId: body.hardwareId,
      publicJwk: body.publicKey,
      registeredAt: response.serverTime,
    });
    registry.saveAnswer(key, { requestHash: hash, status: 201, body: response }, response.serverTime);
    backend.logger.info('edge_registered_offline', {
      edgeId: body.edgeId,
      edgeUuid: uuid,
      hardwareId: body.hardwareId,
    });
    return response;
  });
}
