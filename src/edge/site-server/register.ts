/**
 * `register`: registration through the site server with a licence key (issue 15), built from pairing's parts
 * (pairing/pair.ts): the same steps, retries, persisted Idempotency-Key, verification before saving and single
 * save transaction. What is new is first contact: the site server's key fingerprint is checked on the TLS socket
 * before anything is sent (pinned-https.ts), then pinned for every later call; and the answer is verified either
 * against the cloud's key set the pinned site server relays (connected site) or through the offline licence file
 * signed by the cloud licence key built into this binary (air-gapped site, licence-chain.ts).
 */
import type { JSONWebKeySet } from 'jose';
import {
  type EdgeTokenClaims,
  type SiteFingerprint,
  type SiteIdentity,
  SiteRegisterRequest,
  type SiteRegisterResponse,
  siteIssuer,
} from '../../protocol/index.js';
import { SKEW_WARNING_MS } from '../clock.js';
import { CloudCallError, type FetchLike } from '../cloud-client/http.js';
import { withRetries } from '../cloud-client/retry.js';
import { verifyIssuedToken } from '../cloud-client/verify-issued-token.js';
import { EdgeError } from '../errors.js';
import { describeSkew } from '../human-time.js';
import { ensureIdentity } from '../identity/device-key.js';
import { normaliseCloudUrl } from '../pairing/inputs.js';
import {
  checkClock,
  describeDevice,
  type PairDeps,
  pendingKeyFor,
  refuseIfPaired,
  reportRetry,
  retryOptions,
  saveRegistration,
  sendRegistration,
  stepRunner,
  tryConnect,
} from '../pairing/pair.js';
import type { StoredIdentity } from '../stores/identity-store.js';
import type { Registration } from '../stores/registration-store.js';
import { siteKeySet, trustedLicenceKeys, verifyOfflineLicence } from './licence-chain.js';
import {
  type ConnectStage,
  fingerprintPinnedFetch,
  readPeerFingerprint,
  SiteIdentityMismatchError,
} from './pinned-https.js';
import { fetchSiteIdentity, outcomeUnknown, registerAtSite } from './site-api.js';
import { loadSiteRegistration, saveSiteRegistration } from './site-registration-store.js';

export interface SiteRegisterInput {
  /** The site server's edge-facing base URL (https, normalised). */
  siteServerUrl: string;
  edgeId: string;
  /** Held in memory only (the pending request keeps its hash); never logged, shown or saved. */
  licenceKey: string;
  /** `--site-server-fingerprint`: compared before anything is sent. */
  fingerprint?: SiteFingerprint;
}

export interface SiteRegisterDeps extends PairDeps {
  /** Shows the fingerprint on a terminal and asks; absent without a terminal (then the flag is required). */
  confirmFingerprint?: (fingerprint: SiteFingerprint, siteServerUrl: string) => Promise<boolean>;
  /** The cloud licence keys trusted for offline licence files (default: the ones built into this binary). */
  licenceKeys?: JSONWebKeySet;
}

interface Registering {
  deps: SiteRegisterDeps;
  input: SiteRegisterInput;
  run: ReturnType<typeof stepRunner>;
  retry: ReturnType<typeof retryOptions>;
  now: () => number;
}

/** The device's own clock, for the client to measure the site server's time against. */
const localNow = () => Date.now();

export async function registerThroughSite(deps: SiteRegisterDeps, input: SiteRegisterInput): Promise<Registration> {
  refuseIfPaired(deps, 'register');
  const r: Registering = {
    deps,
    input,
    run: stepRunner(deps, (error) => toEdgeError(error, input.siteServerUrl)),
    retry: retryOptions(deps),
    now: () => deps.clock.now(),
  };
  checkClock(deps, "the site server's");
  const fingerprint = await trustSiteServer(r);
  const fetchPinned = fingerprintPinnedFetch(fingerprint);
  const identity = await reachSiteServer(r, fetchPinned);
  const { registered, deviceKey } = await register(r, fetchPinned, identity);
  const { claims, cloudUrl, licence } = await verifyAnswer(r, identity, registered, deviceKey);
  const registration = await saveRegistration(deps, r, { registered, claims, cloudUrl }, () =>
    saveSiteRegistration(deps.state.db, {
      siteServerUrl: input.siteServerUrl,
      fingerprint,
      mode: registered.issuer === 'site' ? 'air-gapped' : 'connected',
      ...(licence ? { licence } : {}),
    }),
  );
  if (deps.checkConnect) await tryConnect(deps, deps.checkConnect, registration);
  return registration;
}

/**
 * Reads the key the site server presents (the TLS handshake only) and decides whether to trust it: the given
 * fingerprint, else the one pinned for this site server at an earlier registration, else the technician's answer
 * on a terminal. Without any of those it refuses, showing the fingerprint to compare.
 */
async function trustSiteServer({ deps, input, run, retry }: Registering): Promise<SiteFingerprint> {
  const { steps } = deps;
  steps({ step: 'identify', status: 'start', siteServer: input.siteServerUrl });
  const pinned = loadSiteRegistration(deps.state.db);
  const expected =
    input.fingerprint ??
    (pinned && new URL(pinned.siteServerUrl).origin === new URL(input.siteServerUrl).origin
      ? pinned.fingerprint
      : undefined);
  const trusted = await run('identify', async () => {
    const presented = await withRetries(
      async () => {
        steps({
          step: 'identify',
          status: 'progress',
          message: `contacting the site server at ${input.siteServerUrl}`,
        });
        try {
          return await readPeerFingerprint(input.siteServerUrl, {
            onWaiting: (stage) => steps({ step: 'identify', status: 'progress', message: stillWaiting(stage) }),
          });
        } catch (error) {
          throw new CloudCallError(unreachableReason(error, input.siteServerUrl), 'network', true);
        }
      },
      { ...retry, onRetry: reportRetry(steps, 'identify') },
    );
    if (expected !== undefined) {
      if (presented !== expected) throw new SiteIdentityMismatchError(expected, presented);
      return { presented, how: 'as expected' };
    }
    if (!deps.confirmFingerprint)
      throw new EdgeError(
        'SITE_NOT_TRUSTED',
        `the site server's key is ${presented}; compare it with the fingerprint the site server printed at start (and on its /health page), then run register again with --site-server-fingerprint ${presented}. Nothing was sent to it`,
      );
    if (!(await deps.confirmFingerprint(presented, input.siteServerUrl)))
      throw new EdgeError('SITE_NOT_TRUSTED', 'the site server was not trusted; nothing was sent to it');
    return { presented, how: 'confirmed' };
  });
  steps({ step: 'identify', status: 'ok', message: `the site server's key is ${trusted.presented} (${trusted.how})` });
  return trusted.presented;
}

function stillWaiting(stage: ConnectStage): string {
  return stage === 'tls'
    ? 'still waiting: the site server accepted the connection but has not answered TLS yet (it gets 15 s)'
    : 'still waiting for the site server to accept the connection (it gets 15 s)';
}

/** Why the first contact failed, in words a technician can act on. */
function unreachableReason(error: unknown, siteServerUrl: string): string {
  const cause = (error as { cause?: { code?: unknown; stage?: ConnectStage } }).cause;
  const at = new URL(siteServerUrl).host;
  if (cause?.code === 'ETIMEDOUT')
    return cause.stage === 'tls'
      ? `the site server at ${at} accepted the connection but did not answer TLS within 15 s: is it overloaded or stopped?`
      : `the site server at ${at} did not accept the connection within 15 s: is the address right, and is the site server on?`;
  if (cause?.code === 'ECONNREFUSED')
    return `nothing at ${at} accepts connections (ECONNREFUSED): is the site server running, and is this its edge port (5000 by default)?`;
  return `cannot reach the site server (${typeof cause?.code === 'string' ? cause.code : (error as Error).name})`;
}

/** Asks the pinned site server who it is (site, organisation, mode), learning its time from the answer. */
async function reachSiteServer(
  { deps, input, run, retry }: Registering,
  fetchPinned: FetchLike,
): Promise<SiteIdentity> {
  const { steps, clock } = deps;
  steps({ step: 'reach-site', status: 'start', siteServer: input.siteServerUrl });
  const identity = await run('reach-site', () =>
    withRetries(
      async () => {
        const { value, response } = await fetchSiteIdentity(fetchPinned, input.siteServerUrl, localNow);
        if (response.time) clock.observe(response.time);
        return value;
      },
      { ...retry, onRetry: reportRetry(steps, 'reach-site') },
    ),
  );
  // The clock step could only judge the local clock alone; now it is measured against the site server's.
  const skew = clock.skewMs;
  const wrong = Math.abs(skew) > SKEW_WARNING_MS;
  steps({
    step: 'reach-site',
    status: wrong ? 'warn' : 'ok',
    message: `site server reached: site ${identity.siteId}, ${identity.mode === 'air-gapped' ? 'air-gapped (it issues tokens from its offline licence file)' : 'connected to the cloud'}; this device's clock is ${describeSkew(skew, 'the site server')}${wrong ? " (the device clock is wrong; the site server's time is used for tokens)" : ''}`,
    mode: identity.mode,
    skewMs: skew,
  });
  return identity;
}

/** Registers the device key with the licence key, replaying the saved Idempotency-Key if an attempt was lost. */
async function register({ deps, input, run, retry, now }: Registering, fetchPinned: FetchLike, site: SiteIdentity) {
  const { steps, state } = deps;
  steps({ step: 'register', status: 'start', edgeId: input.edgeId, siteId: site.siteId });
  const deviceKey = await ensureIdentity(state.identity, new Date(now()));
  const body = SiteRegisterRequest.parse({
    ...describeDevice(deps, input.edgeId, deviceKey),
    licenceKey: input.licenceKey,
  });
  const target = { cloudUrl: input.siteServerUrl, orgId: site.orgId, siteId: site.siteId };
  // The pending row tells a retry of this request from a new one; it keeps a salted digest of the key, not the key.
  const { licenceKey, ...request } = body;
  const idempotencyKey = pendingKeyFor(deps, target, request, { licenceKey });
  const registered = await sendRegistration(deps, { run, retry }, () =>
    registerAtSite(fetchPinned, input.siteServerUrl, { idempotencyKey, body }, localNow),
  );
  steps({ step: 'register', status: 'ok', message: `registered as ${registered.edgeId} (${registered.id})` });
  return { registered, deviceKey };
}

/**
 * The answer must be for this edge, site and organisation, and its token for this device and key, signed by the
 * cloud (connected: the relayed key set) or by the site server key a cloud-signed offline licence names.
 */
async function verifyAnswer(
  { deps, input, run, now }: Registering,
  site: SiteIdentity,
  registered: SiteRegisterResponse,
  deviceKey: StoredIdentity,
): Promise<{ claims: EdgeTokenClaims; cloudUrl: string; licence?: string }> {
  deps.steps({ step: 'verify-site', status: 'start' });
  const verified = await run('verify-site', async () => {
    if (registered.edgeId !== input.edgeId || registered.siteId !== site.siteId || registered.orgId !== site.orgId)
      throw new EdgeError(
        'TOKEN_REJECTED',
        'the site server answered for another edge, site or organisation; nothing was saved',
      );
    if (!registered.config.siteServer.mqtt.topicPrefix.endsWith(`/sites/${site.siteId}/edges/${input.edgeId}`))
      throw new EdgeError('TOKEN_REJECTED', 'the site server gave a topic prefix for another edge; nothing was saved');
    const expect = {
      siteId: site.siteId,
      orgId: site.orgId,
      edgeId: input.edgeId,
      edgeUuid: registered.id,
      hardwareId: deps.hardwareId,
      thumbprint: deviceKey.thumbprint,
      nowMs: now(),
    };
    if (registered.issuer === 'site') {
      if (!registered.licence)
        throw new EdgeError(
          'TOKEN_REJECTED',
          'the site server issued a token without its offline licence file; nothing was saved',
        );
      const licence = await verifyOfflineLicence(
        registered.licence,
        { orgId: site.orgId, siteId: site.siteId, licenceKey: input.licenceKey },
        deps.licenceKeys ?? trustedLicenceKeys(),
      );
      const claims = await verifyIssuedToken(registered.edgeToken, siteKeySet(licence), {
        ...expect,
        issuer: siteIssuer(site.siteId),
      });
      return { claims, cloudUrl: input.siteServerUrl, licence: registered.licence };
    }
    if (!registered.jwks)
      throw new EdgeError(
        'TOKEN_REJECTED',
        'the site server relayed no cloud key set to check the token with; nothing was saved',
      );
    const claims = await verifyIssuedToken(registered.edgeToken, registered.jwks as JSONWebKeySet, {
      ...expect,
      issuer: undefined,
    });
    // The token's issuer is the cloud that renews it: it must be a plain http(s) base URL.
    let cloudUrl: string;
    try {
      cloudUrl = normaliseCloudUrl(claims.iss);
    } catch {
      throw new EdgeError('TOKEN_REJECTED', "the token's issuer is not a cloud URL; nothing was saved");
    }
    if (cloudUrl !== claims.iss)
      throw new EdgeError('TOKEN_REJECTED', "the token's issuer is not a cloud URL; nothing was saved");
    return { claims, cloudUrl };
  });
  deps.steps({
    step: 'verify-site',
    status: 'ok',
    message: `token ${registered.issuer === 'site' ? 'signed by the site server key its offline licence names' : 'signed by the cloud'}, valid until ${new Date(verified.claims.exp * 1000).toISOString()}`,
  });
  return verified;
}

function toEdgeError(error: unknown, siteServerUrl: string): EdgeError {
  if (error instanceof EdgeError) return error;
  if (error instanceof SiteIdentityMismatchError) return new EdgeError('SITE_IDENTITY_MISMATCH', error.message);
  if (error instanceof CloudCallError) {
    const { message } = error; // already in the site server's words (site-api.ts)
    if (error.kind === 'tls') return new EdgeError('CLOUD_UNREACHABLE', `${message}; nothing was saved`);
    // The pending request stays (only an EdgeError ends it), so the same command replays the same request.
    if (outcomeUnknown(error))
      return new EdgeError(
        'CLOUD_UNREACHABLE',
        `the cloud's answer did not reach the site server (${siteServerUrl}), so the licence key may already be bound to this device. Run the same register command again with the same licence key and edge id when the site server reaches the cloud: it asks for the same registration and cannot bind a second licence`,
      );
    if (error.retryable)
      return new EdgeError(
        'CLOUD_UNREACHABLE',
        `${message} (${siteServerUrl}); check the address and port (the site server's edge port, 5000 by default) and the network, then run register again (it is safe to repeat)`,
      );
    return new EdgeError(
      'CLOUD_RESPONSE_INVALID',
      `${message}; nothing was saved. Run register again; if it keeps failing, check the site server's version`,
    );
  }
  return new EdgeError('INTERNAL', `unexpected failure: ${(error as Error).message}`, { cause: error });
}
