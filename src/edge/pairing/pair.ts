/**
 * Pairing as a persisted state machine (balena's provision()): the Idempotency-Key and request body are saved
 * before the first attempt, so a retry after a lost answer or a power cut replays the same registration instead
 * of burning the code twice. The answer is verified completely before anything is saved; then registration,
 * token and config are saved and the pending row deleted in ONE synchronous=FULL transaction.
 */
import { randomUUID } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import type { JSONWebKeySet } from 'jose';
import {
  EdgeConfig,
  type EdgeTokenClaims,
  Hostname,
  RegisterEdgeRequest,
  type RegisterEdgeResponse,
} from '../../protocol/index.js';
import type { BackoffPolicy, Random } from '../backoff.js';
import { SKEW_WARNING_MS } from '../clock.js';
import { describePending, pendingSentence, pendingSpent } from './pending-request.js';
import type { PendingPairing } from '../stores/pending-pairing-store.js';
import { registerEdge } from '../cloud-client/edge-api.js';
import { CloudCallError, type CloudResponse } from '../cloud-client/http.js';
import { fetchJwks } from '../cloud-client/jwks.js';
import { PAIRING_RETRY_POLICY, type RetryOptions, withRetries } from '../cloud-client/retry.js';
import { verifyIssuedToken } from '../cloud-client/verify-issued-token.js';
import type { EdgeCore } from '../core.js';
import { EdgeError } from '../errors.js';
import { describeSkew } from '../human-time.js';
import { ensureIdentity } from '../identity/device-key.js';
import { pairingConfig } from '../stores/config-store.js';
import { credentialTransaction } from '../stores/credential-transaction.js';
import type { StoredIdentity } from '../stores/identity-store.js';
import type { Registration } from '../stores/registration-store.js';
import { deleteSecurely } from '../../storage/index.js';
import { saveSiteRegistration } from '../site-server/site-registration-store.js';
import type { PairingInput } from './inputs.js';
import { isLegacyDigest, matchesSecretDigest, secretDigest } from './secret-digest.js';
import { type StepName, type StepReporter, withWaitingNotice } from './steps.js';

/** The cloud keeps an Idempotency-Key for 24 h; an older pending row gets a fresh key. */
const PENDING_MAX_AGE_MS = 23 * 3_600_000;

/** The device's own clock, for the cloud client to measure the cloud's time against. */
const localNow = () => Date.now();

export interface PairDeps extends EdgeCore {
  steps: StepReporter;
  hostname?: string;
  retry?: { policy?: BackoffPolicy; maxAttempts?: number; random?: Random };
  signal?: AbortSignal;
  /** Re-pair although a registration exists (the cloud replaces the registration of the same hardwareId). */
  force?: boolean;
  /** Last step: try the site server once. A failure is a warning: the registration stands. */
  checkConnect?: (registration: Registration) => Promise<void>;
}

export async function pairDevice(deps: PairDeps, input: PairingInput): Promise<Registration> {
  refuseIfPaired(deps);
  const pairing = startPairing(deps, input);
  checkClock(deps);
  const jwks = await reachCloud(pairing);
  const { registered, identity } = await register(pairing);
  const claims = await verifyAnswer(pairing, { registered, identity, jwks });
  const registration = await save(pairing, registered, claims);
  if (deps.checkConnect) await tryConnect(deps, deps.checkConnect, registration);
  return registration;
}

/** One pairing in progress: what every step needs, and `run`, which turns a step's failure into its `fail` event. */
interface Pairing {
  deps: PairDeps;
  input: PairingInput;
  retry: Omit<RetryOptions, 'onRetry'>;
  /** The cloud's time, as far as the device knows it. */
  now: () => number;
  run: <T>(step: StepName, fn: () => Promise<T>) => Promise<T>;
}

/** `verb` is the command's own word (`pair`, or `register` through a site server), for the technician's message. */
export function refuseIfPaired(deps: PairDeps, verb: 'pair' | 'register' = 'pair'): void {
  // An interrupted request of the other command differs from this one whatever its details: refused before any
  // network step, as pendingKeyFor would refuse it later.
  const pending = freshPending(deps);
  if (pending && !deps.force && describePending(pending).command !== verb) throw pendingRefusal(pending);
  const existing = deps.state.registration.get();
  if (existing && !existing.revokedAt && !deps.force) {
    throw new EdgeError(
      'ALREADY_PAIRED',
      `this device is already ${verb === 'pair' ? 'paired' : 'registered'} as ${existing.edgeId} at site ${existing.siteId}; run 'consystence-edge reset' first, or pass --force to ${verb} again`,
    );
  }
}

function startPairing(deps: PairDeps, input: PairingInput): Pairing {
  return {
    deps,
    input,
    retry: retryOptions(deps),
    now: () => deps.clock.now(),
    run: stepRunner(deps, (error) => toEdgeError(error, input.cloudUrl)),
  };
}

export function retryOptions(deps: PairDeps): Omit<RetryOptions, 'onRetry'> {
  return {
    policy: deps.retry?.policy ?? PAIRING_RETRY_POLICY,
    maxAttempts: deps.retry?.maxAttempts ?? 6,
    ...(deps.retry?.random ? { random: deps.retry.random } : {}),
    ...(deps.signal ? { signal: deps.signal } : {}),
  };
}

/** Runs one step; its failure becomes the step's `fail` event and an EdgeError a technician can act on. */
export function stepRunner(deps: PairDeps, toError: (error: unknown) => EdgeError): Pairing['run'] {
  return async <T>(step: StepName, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (error) {
      const edgeError = toError(error);
      deps.steps({ step, status: 'fail', message: edgeError.message });
      throw edgeError;
    }
  };
}

/** `timeSource`: whose time replaces an implausible local clock (the site server's, for `register`). */
export function checkClock({ steps, clock }: PairDeps, timeSource = "the cloud's"): void {
  steps({ step: 'clock', status: 'start' });
  const local = new Date(Date.now()).toISOString();
  if (clock.localClockImplausible) {
    steps({
      step: 'clock',
      status: 'warn',
      message: `the local clock says ${local}; ${timeSource} time will be used instead`,
    });
  } else {
    steps({ step: 'clock', status: 'ok', message: `local time ${local}` });
  }
}

/** Fetches the cloud's signing keys, learning the cloud's time from the answer (the device clock may be wrong). */
async function reachCloud({ deps, input, run, retry }: Pairing): Promise<JSONWebKeySet> {
  const { steps, clock } = deps;
  steps({ step: 'reach', status: 'start', cloud: input.cloudUrl });
  const jwks = await run('reach', () =>
    withRetries(
      async () => {
        steps({ step: 'reach', status: 'progress', message: `contacting the cloud at ${input.cloudUrl}` });
        const { jwks: keys, response } = await withWaitingNotice(
          steps,
          'reach',
          'still waiting: the cloud has not answered yet (it gets 15 s)',
          () => fetchJwks(deps.fetch, input.cloudUrl, localNow),
        );
        if (response.time) clock.observe(response.time);
        return keys;
      },
      { ...retry, onRetry: reportRetry(steps, 'reach') },
    ),
  );
  const skew = clock.skewMs;
  const wrong = Math.abs(skew) > SKEW_WARNING_MS;
  steps({
    step: 'reach',
    status: wrong ? 'warn' : 'ok',
    message: `cloud reached; this device's clock is ${describeSkew(skew)}${wrong ? " (the device clock is wrong; the cloud's time is used for tokens)" : ''}`,
    skewMs: skew,
  });
  return jwks;
}

/** What a registration says about this device, to the cloud or to a site server. */
export function describeDevice(deps: PairDeps, edgeId: string, identity: StoredIdentity) {
  return {
    edgeId,
    hardwareId: deps.hardwareId,
    version: deps.version,
    hostname: sanitiseHostname(deps.hostname ?? osHostname()),
    publicKey: identity.publicJwk,
  };
}

/** Registers the device key under the pairing code, replaying the saved Idempotency-Key if an attempt was lost. */
async function register({ deps, input, run, retry, now }: Pairing) {
  const { steps, state } = deps;
  steps({ step: 'register', status: 'start', edgeId: input.edgeId, siteId: input.siteId });
  const identity = await ensureIdentity(state.identity, new Date(now()));
  const body = RegisterEdgeRequest.parse({
    ...describeDevice(deps, input.edgeId, identity),
    ...(input.licenceKey ? { licenceKey: input.licenceKey } : {}),
  });
  // The code is the bearer, not part of the body: it and the licence key are remembered only as salted digests.
  const { licenceKey, ...request } = body;
  const idempotencyKey = pendingKeyFor(deps, input, request, {
    ...(licenceKey ? { licenceKey } : {}),
    code: input.code,
  });
  const registered = await sendRegistration(deps, { run, retry }, () =>
    registerEdge(deps.fetch, input, { code: input.code, idempotencyKey, body }, localNow),
  );
  steps({ step: 'register', status: 'ok', message: `registered as ${registered.edgeId} (${registered.id})` });
  return { registered, identity };
}

/**
 * The `register` step's call, to the cloud or a site server: retried with the same Idempotency-Key (the same
 * request, it cannot register twice). A final refusal (code used, licence bound, …) ends this attempt: the next
 * one gets a fresh key. A network failure keeps the pending row, so re-running replays instead of registering twice.
 */
export function sendRegistration<T>(
  deps: PairDeps,
  { run, retry }: Pick<Pairing, 'run' | 'retry'>,
  send: () => Promise<{ value: T; response: CloudResponse }>,
): Promise<T> {
  const { steps, state, clock } = deps;
  return run('register', async () => {
    try {
      return await withRetries(
        async () => {
          const result = await send();
          if (result.response.time) clock.observe(result.response.time);
          return result.value;
        },
        { ...retry, onRetry: reportRetry(steps, 'register', ' (same request, it cannot register twice)') },
      );
    } catch (error) {
      if (error instanceof EdgeError) credentialTransaction(state.db, () => state.pending.delete());
      throw error;
    }
  });
}

/** The answer must be for this edge, site and organisation, and its token signed by the cloud for this key. */
async function verifyAnswer(
  { deps, input, run, now }: Pairing,
  answer: { registered: RegisterEdgeResponse; identity: StoredIdentity; jwks: JSONWebKeySet },
): Promise<EdgeTokenClaims> {
  const { registered, identity, jwks } = answer;
  deps.steps({ step: 'verify', status: 'start' });
  const claims = await run('verify', async () => {
    if (registered.edgeId !== input.edgeId || registered.siteId !== input.siteId || registered.orgId !== input.orgId) {
      throw new EdgeError(
        'TOKEN_REJECTED',
        'the cloud answered for another edge, site or organisation; nothing was saved',
      );
    }
    if (!registered.config.siteServer.mqtt.topicPrefix.endsWith(`/sites/${input.siteId}/edges/${input.edgeId}`)) {
      throw new EdgeError('TOKEN_REJECTED', 'the cloud gave a topic prefix for another edge; nothing was saved');
    }
    return verifyIssuedToken(registered.edgeToken, jwks, {
      issuer: input.cloudUrl,
      siteId: input.siteId,
      orgId: input.orgId,
      edgeId: input.edgeId,
      edgeUuid: registered.id,
      hardwareId: deps.hardwareId,
      thumbprint: identity.thumbprint,
      nowMs: now(),
    });
  });
  deps.steps({
    step: 'verify',
    status: 'ok',
    message: `token valid until ${new Date(claims.exp * 1000).toISOString()}`,
  });
  return claims;
}

/** Saves registration, token and config and deletes the pending row, in one transaction. */
async function save(
  { deps, input, run, now }: Pairing,
  registered: RegisterEdgeResponse,
  claims: EdgeTokenClaims,
): Promise<Registration> {
  // A pairing code replaces any registration made through a site server: its pin is forgotten with it.
  return saveRegistration(deps, { run, now }, { registered, claims, cloudUrl: input.cloudUrl }, () =>
    saveSiteRegistration(deps.state.db, null),
  );
}

/**
 * Saves registration, token and config, whatever `alsoSave` adds, and deletes the pending row, all in one
 * transaction: a power cut leaves the old state or the new one, never half.
 */
export async function saveRegistration(
  deps: PairDeps,
  { run, now }: Pick<Pairing, 'run' | 'now'>,
  answer: { registered: RegisterEdgeResponse; claims: EdgeTokenClaims; cloudUrl: string },
  alsoSave: () => void,
): Promise<Registration> {
  const { steps, state, logger } = deps;
  const { registered, claims } = answer;
  steps({ step: 'save', status: 'start' });
  const at = new Date(now()).toISOString();
  const registration: Registration = {
    edgeUuid: registered.id,
    edgeId: registered.edgeId,
    orgId: registered.orgId,
    siteId: registered.siteId,
    cloudUrl: answer.cloudUrl,
    hardwareId: deps.hardwareId,
    edgeToken: registered.edgeToken,
    tokenIat: claims.iat,
    tokenExp: claims.exp,
    config: EdgeConfig.parse(registered.config),
    pairedAt: at,
    tokenRefreshedAt: null,
    revokedAt: null,
  };
  // A re-pair overwrites the old token: its bytes are scrubbed from the file and the WAL with the save.
  const saved = await run('save', async () =>
    deleteSecurely(state.db, () =>
      credentialTransaction(state.db, () => {
        state.registration.put(registration);
        state.siteEndpoints.clear();
        state.config.clear();
        state.config.setCurrent(pairingConfig(registration.config), at);
        state.commands.clear();
        state.status.clear();
        state.pending.delete();
        alsoSave();
      }),
    ),
  );
  if (saved.notScrubbed) logger.warn('old_credentials_not_scrubbed', { reason: saved.notScrubbed });
  logger.info('paired', { edgeId: registration.edgeId, siteId: registration.siteId, edgeUuid: registration.edgeUuid });
  steps({ step: 'save', status: 'ok', message: 'registration saved' });
  return registration;
}

/** Tries the site server once; a failure is a warning, as the registration stands. */
export async function tryConnect(
  { steps }: PairDeps,
  checkConnect: NonNullable<PairDeps['checkConnect']>,
  registration: Registration,
): Promise<void> {
  steps({ step: 'connect', status: 'start', broker: registration.config.siteServer.mqtt.url });
  try {
    await checkConnect(registration);
    steps({ step: 'connect', status: 'ok', message: 'the site server accepted this device' });
  } catch (error) {
    steps({
      step: 'connect',
      status: 'warn',
      message: `${(error as Error).message}; the pairing is saved and 'run' keeps trying`,
    });
  }
}

export function reportRetry(steps: StepReporter, step: StepName, note = ''): RetryOptions['onRetry'] {
  return (r) =>
    steps({
      step,
      status: 'retry',
      message: `${r.reason}; trying again in ${(r.delayMs / 1000).toFixed(1)} s${note}`,
      attempt: r.attempt,
      delayMs: r.delayMs,
    });
}

/**
 * Reuses the saved Idempotency-Key when the same request is retried; otherwise saves a fresh one first. A different
 * request while an interrupted one is pending is refused (unless --force): the interrupted one may have used the
 * code or bound the licence already, and dropping it silently would spend a second one on the same device.
 * `request` is the body without its secrets; `secrets` (the code, the licence key) are kept only as salted digests
 * (secret-digest.ts). The refusal names the interrupted request and what it may have spent (pending-request.ts).
 */
export function pendingKeyFor(
  deps: PairDeps,
  input: Pick<PairingInput, 'cloudUrl' | 'orgId' | 'siteId'>,
  request: Record<string, unknown>,
  secrets: Record<string, string>,
): string {
  const { state } = deps;
  const pending = freshPending(deps);
  if (pending) {
    const match =
      pending.cloudUrl === input.cloudUrl &&
      pending.orgId === input.orgId &&
      pending.siteId === input.siteId &&
      matchPendingBody(pending.body, request, secrets);
    if (match) {
      deps.logger.info('pairing_replay', { reason: 'a previous attempt did not finish; replaying it' });
      // An earlier version kept unsalted hashes: the same request is saved again in the salted form, and the old
      // bytes are scrubbed from the file and the WAL.
      if (match === 'legacy')
        deleteSecurely(state.db, () =>
          savePending(deps, input, pending.idempotencyKey, request, secrets, pending.createdAt),
        );
      return pending.idempotencyKey;
    }
    if (!deps.force) throw pendingRefusal(pending);
  }
  const idempotencyKey = randomUUID();
  savePending(deps, input, idempotencyKey, request, secrets, new Date().toISOString());
  return idempotencyKey;
}

/** The pending request unless it is older than the cloud keeps an Idempotency-Key (then it is replaced). */
function freshPending({ state }: PairDeps): PendingPairing | null {
  const pending = state.pending.get();
  return pending && Date.parse(pending.createdAt) > Date.now() - PENDING_MAX_AGE_MS ? pending : null;
}

function pendingRefusal(pending: PendingPairing): EdgeError {
  const earlier = describePending(pending);
  return new EdgeError(
    'REGISTRATION_PENDING',
    `${pendingSentence(earlier)} did not finish, and this command differs from it: ${pendingSpent(earlier)}. Run that ${earlier.command} command again to finish it, or pass --force to abandon it`,
  );
}

function savePending(
  deps: PairDeps,
  input: Pick<PairingInput, 'cloudUrl' | 'orgId' | 'siteId'>,
  idempotencyKey: string,
  request: Record<string, unknown>,
  secrets: Record<string, string>,
  createdAt: string,
): void {
  const digests = Object.fromEntries(Object.entries(secrets).map(([name, value]) => [name, secretDigest(value)]));
  const body = JSON.stringify({ ...request, ...digests });
  const { state } = deps;
  credentialTransaction(state.db, () =>
    state.pending.put({
      idempotencyKey,
      cloudUrl: input.cloudUrl,
      orgId: input.orgId,
      siteId: input.siteId,
      body,
      createdAt,
    }),
  );
}

/**
 * Whether the saved body is this request: the same fields apart from the secrets, and each secret's digest made
 * from this secret. 'legacy' when it matched an earlier version's unsalted hashes (or a licence key it kept in clear).
 */
function matchPendingBody(
  saved: string,
  request: Record<string, unknown>,
  secrets: Record<string, string>,
): false | 'current' | 'legacy' {
  let stored: Record<string, unknown>;
  try {
    stored = JSON.parse(saved) as Record<string, unknown>;
  } catch {
    return false;
  }
  if (typeof stored !== 'object' || stored === null) return false;
  const rest = Object.fromEntries(Object.entries(stored).filter(([name]) => !(name in secrets)));
  if (JSON.stringify(rest) !== JSON.stringify(request)) return false;
  let legacy = false;
  for (const [name, value] of Object.entries(secrets)) {
    if (stored[name] === value) legacy = true;
    else if (matchesSecretDigest(stored[name], value)) legacy ||= isLegacyDigest(stored[name]);
    else return false;
  }
  return legacy ? 'legacy' : 'current';
}

export function sanitiseHostname(name: string): string {
  const cleaned = name
    .replace(/[^A-Za-z0-9.-]/g, '-')
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '')
    .slice(0, 253);
  return Hostname.safeParse(cleaned).success ? cleaned : 'edge';
}

function toEdgeError(error: unknown, cloudUrl: string): EdgeError {
  if (error instanceof EdgeError) return error;
  if (error instanceof CloudCallError) {
    if (error.kind === 'tls')
      return new EdgeError('CLOUD_UNREACHABLE', `${error.message}; nothing was saved`, { cause: error });
    if (error.retryable)
      return new EdgeError(
        'CLOUD_UNREACHABLE',
        `${error.message} (${cloudUrl}); check the network and DNS, then run pair again (it is safe to repeat)`,
        { cause: error },
      );
    return new EdgeError(
      'CLOUD_RESPONSE_INVALID',
      `${error.message}; nothing was saved. Run pair again; if it keeps failing, check for a proxy between this device and ${cloudUrl}`,
      { cause: error },
    );
  }
  return new EdgeError('INTERNAL', `unexpected failure: ${(error as Error).message}`, { cause: error });
}
