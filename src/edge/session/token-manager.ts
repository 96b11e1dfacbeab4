/**
 * The edge token's lifecycle (CONTRACT §3, issue 5 §6). The token is read from the database at every connect
 * attempt; refresh uses a device-key assertion, so it works even after the token expired offline. Proactive
 * refresh runs at ~80 % of the lifetime (with jitter, so a fleet paired together does not refresh together);
 * failures back off and never touch a live MQTT session. EDGE_REVOKED marks the registration revoked.
 */
import { Backoff, type BackoffPolicy } from '../backoff.js';
import type { EdgeClock } from '../clock.js';
import { requestTokenRefresh } from '../cloud-client/edge-api.js';
import type { FetchLike } from '../cloud-client/http.js';
import { signedConnection } from '../cloud-client/signed-connection.js';
import { verifyIssuedToken } from '../cloud-client/verify-issued-token.js';
import { splitCaBundle } from '../../protocol/index.js';
import { EdgeError } from '../errors.js';
import { signAssertion } from '../identity/device-key.js';
import type { Logger } from '../../common/log/log.js';
import { credentialTransaction } from '../stores/credential-transaction.js';
import type { EdgeStores } from '../stores/index.js';
import type { Registration } from '../stores/registration-store.js';
import { loadSiteRegistration } from '../site-server/site-registration-store.js';
import { tokenAuthorityFor, type TokenAuthority } from './token-authority.js';

export const REFRESH_RETRY_POLICY: BackoffPolicy = {
  baseMs: 5_000,
  capMs: 10 * 60_000,
  minMs: 1_000,
  maxHintMs: 30 * 60_000,
};

export interface TokenManagerDeps {
  state: EdgeStores;
  clock: EdgeClock;
  fetch: FetchLike;
  hardwareId: string;
  logger: Logger;
  random?: () => number;
  onRevoked: () => void;
  onRefreshed?: (exp: number) => void;
  /** The cloud signed a site connection other than the one in use: saved as the candidate, to be tried. */
  onConnectionOffered?: () => void;
}

export class TokenManager {
  private inflight: Promise<Registration> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly backoff: Backoff;
  private stopped = false;
  lastError: string | null = null;

  constructor(private readonly deps: TokenManagerDeps) {
    this.backoff = new Backoff(REFRESH_RETRY_POLICY, deps.random);
  }

  /** The registration as saved now (the token may have been refreshed by another code path). */
  registration(): Registration {
    const reg = this.deps.state.registration.get();
    if (!reg) throw new EdgeError('NOT_PAIRED', 'this device is not paired');
    return reg;
  }

  /** Refreshes now; concurrent callers share one request. */
  refresh(reason: string): Promise<Registration> {
    this.inflight ??= this.doRefresh(reason).finally(() => (this.inflight = null));
    return this.inflight;
  }

  /**
   * Starts proactive refresh, and measures the cloud's time once (a JWKS fetch, in the background: going online does
   * not wait for it). A saved offset can be wrong in a way no start-up check sees (measured while the local clock was
   * off, then carried consistently): a fresh measurement wins, and the refresh is rescheduled on it.
   */
  start(): void {
    this.stopped = false;
    this.schedule(this.dueInMs());
    this.measureCloudTime().then(
      () => this.schedule(this.dueInMs()),
      (error: unknown) => this.deps.logger.info('cloud_time_not_measured', { error }),
    );
  }

  private async measureCloudTime(): Promise<void> {
    await this.authority(this.registration()).keys();
  }

  private authority(reg: Registration): TokenAuthority {
    return tokenAuthorityFor(reg, loadSiteRegistration(this.deps.state.db), this.deps);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** When the next proactive refresh is due: 80 % of the lifetime, minus up to 5 % jitter. */
  dueInMs(): number {
    const reg = this.registration();
    const lifetime = Math.max(0, reg.tokenExp - reg.tokenIat) * 1000;
    const jitter = (this.deps.random ?? Math.random)() * 0.05 * lifetime;
    return Math.max(0, reg.tokenIat * 1000 + lifetime * 0.8 - jitter - this.deps.clock.now());
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    // setTimeout overflows above 2^31-1 ms (24.8 days): re-check in steps instead.
    const step = Math.min(delayMs, 2 ** 31 - 1);
    this.timer = setTimeout(() => {
      if (step < delayMs) return this.schedule(delayMs - step);
      this.timer = null;
      this.refresh('proactive').then(
        () => {
          this.backoff.reset();
          this.schedule(this.dueInMs());
        },
        (error: unknown) => {
          if (error instanceof EdgeError && error.code === 'REVOKED') return;
          this.schedule(
            this.backoff.next((error as { extra?: { retryAfterMs?: number } }).extra?.retryAfterMs ?? null),
          );
        },
      );
    }, step);
    this.timer.unref?.();
  }

  private async doRefresh(reason: string): Promise<Registration> {
    const { state, clock, logger } = this.deps;
    const reg = this.registration();
    if (reg.revokedAt) throw new EdgeError('REVOKED', 'this device was revoked; pair it again with a new pairing code');
    const identity = state.identity.get();
    if (!identity) throw new EdgeError('NOT_PAIRED', 'the device key is missing; pair again');
    const authority = this.authority(reg);
    const url = authority.refreshUrl;
    logger.info('token_refresh_started', { reason });
    try {
      const jwks = await authority.keys();
      const assertion = await signAssertion(identity, { edgeUuid: reg.edgeUuid, audience: url, nowMs: clock.now() });
      const { value, response } = await requestTokenRefresh(this.deps.fetch, url, assertion, Date.now);
      if (response.time) clock.observe(response.time);
      const claims = await verifyIssuedToken(value.edgeToken, jwks, {
        issuer: authority.issuer,
        siteId: reg.siteId,
        orgId: reg.orgId,
        edgeId: reg.edgeId,
        edgeUuid: reg.edgeUuid,
        hardwareId: reg.hardwareId,
        thumbprint: identity.thumbprint,
        nowMs: clock.now(),
      });
      const connection = signedConnection(value.connection, claims, logger);
      const at = new Date(clock.now()).toISOString();
      const offered = credentialTransaction(state.db, () => {
        state.registration.updateToken(value.edgeToken, claims.iat, claims.exp, at);
        return connection ? state.siteEndpoints.offer(connection, at) : false;
      });
      this.lastError = null;
      logger.info('token_refreshed', { reason, expiresAt: new Date(claims.exp * 1000).toISOString() });
      this.deps.onRefreshed?.(claims.exp);
      if (offered) {
        logger.info('site_connection_offered', {
          mqtt: connection?.mqtt.url,
          cas: connection?.mqtt.caCertificatePem ? splitCaBundle(connection.mqtt.caCertificatePem).length : 0,
        });
        this.deps.onConnectionOffered?.();
      }
      // Any refresh (command, refusal, proactive) moves the next proactive one to 80 % of the new lifetime.
      if (!this.stopped && this.timer) {
        this.backoff.reset();
        this.schedule(this.dueInMs());
      }
      return this.registration();
    } catch (failure) {
      const error = authority.explain(failure);
      if (error instanceof EdgeError && error.code === 'REVOKED') {
        credentialTransaction(state.db, () => state.registration.markRevoked(new Date(clock.now()).toISOString()));
        this.lastError = error.message;
        logger.error('edge_revoked', { message: error.message });
        this.stop();
        this.deps.onRevoked();
        throw error;
      }
      this.lastError = `token refresh failed: ${(error as Error).message}`;
      logger.warn('token_refresh_failed', { reason, error });
      throw error;
    }
  }
}
