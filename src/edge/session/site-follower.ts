/**
 * Follows the site server when it moves, is replaced or rotates its CA, without re-pairing (issue 17).
 *
 * - A connection the cloud signed (token refresh) is tried as a candidate: the link is pointed at it, and it
 *   becomes the endpoint in use only after it accepted this device (CONNACK 0). If it refuses or cannot be reached
 *   `TRIAL_ATTEMPTS` times in a row, the link goes back to the endpoint that worked, and the candidate is tried
 *   again later with backoff. The device therefore never leaves a working endpoint for one that does not work.
 * - When the link has been down (unreachable, certificate refused) for `checkAfterMs` (default 10 minutes), the
 *   device asks the cloud where its site server is now (a token refresh, signed with the device key), with
 *   backoff, never while the link works. If the cloud has nothing new, or cannot be reached, the previous
 *   endpoint (kept as fallback at the last switch) is tried instead.
 */
import { X509Certificate, createHash } from 'node:crypto';
import { splitCaBundle, type MqttConfig, type SiteConnection } from '../../protocol/index.js';
import { Backoff, type BackoffPolicy, type Random } from '../backoff.js';
import type { EdgeClock } from '../clock.js';
import type { Logger } from '../../common/log/log.js';
import type { EdgeStores } from '../stores/index.js';
import { withConnection } from '../stores/site-endpoint-store.js';
import type { SiteEndpoint } from '../stores/status-store.js';

export const DEFAULT_SITE_CHECK_AFTER_MS = 10 * 60_000;
/** Consecutive failed connects to a candidate before going back to the endpoint that worked. */
export const TRIAL_ATTEMPTS = 3;
/** Between two questions to the cloud while the site server stays unreachable, and between two trials. */
export const SITE_RETRY_POLICY: BackoffPolicy = { baseMs: 60_000, capMs: 30 * 60_000, minMs: 30_000 };

export interface SiteFollowerDeps {
  state: EdgeStores;
  clock: EdgeClock;
  logger: Logger;
  /** Points the link at another endpoint (stops the current connection, dials the new one). */
  retarget: (mqtt: MqttConfig) => void;
  /** Asks the cloud where the site server is (a token refresh); resolves once the answer is saved. */
  askCloud: () => Promise<unknown>;
  checkAfterMs?: number;
  retryPolicy?: BackoffPolicy;
  random?: Random;
}

/** SHA-256 fingerprints (first 16 hex digits) of the CAs a config trusts, so `status` can say which CA is in use. */
export function caFingerprints(caPem: string | undefined): string[] {
  if (!caPem) return [];
  return splitCaBundle(caPem).map((pem) => {
    try {
      return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex').slice(0, 16);
    } catch {
      return 'unreadable';
    }
  });
}

export class SiteFollower {
  private trial: { connection: SiteConnection; failures: number } | null = null;
  private downSinceMs: number | null;
  private checkTimer: ReturnType<typeof setTimeout> | null = null;
  private trialTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly askBackoff: Backoff;
  private readonly trialBackoff: Backoff;
  private stopped = true;

  constructor(private readonly deps: SiteFollowerDeps) {
    this.askBackoff = new Backoff(deps.retryPolicy ?? SITE_RETRY_POLICY, deps.random);
    this.trialBackoff = new Backoff(deps.retryPolicy ?? SITE_RETRY_POLICY, deps.random);
    this.downSinceMs = deps.clock.now();
  }

  /** What the link should dial now: the candidate on trial, else the endpoint in use. */
  target(): MqttConfig {
    const siteServer = this.registered();
    return this.trial ? withConnection(siteServer, this.trial.connection).mqtt : siteServer.mqtt;
  }

  /** Starts watching. True when a candidate saved before a restart is to be tried first (dial `target()`). */
  start(): boolean {
    this.stopped = false;
    this.scheduleCheck(this.checkAfterMs);
    if (!this.deps.state.siteEndpoints.candidate()) return false;
    this.beginTrial();
    return true;
  }

  stop(): void {
    this.stopped = true;
    for (const timer of [this.checkTimer, this.trialTimer]) if (timer) clearTimeout(timer);
    this.checkTimer = this.trialTimer = null;
  }

  /** The cloud signed a new connection: try it now. */
  offered(): void {
    if (!this.stopped) this.retargetTo(this.beginTrial());
  }

  linkOnline(): void {
    this.downSinceMs = null;
    if (this.checkTimer) clearTimeout(this.checkTimer);
    this.checkTimer = null;
    this.askBackoff.reset();
    if (!this.trial) return;
    const { connection } = this.trial;
    this.trial = null;
    this.trialBackoff.reset();
    if (this.deps.state.siteEndpoints.commit(connection))
      this.deps.logger.info('site_endpoint_switched', {
        mqtt: connection.mqtt.url,
        cas: caFingerprints(connection.mqtt.caCertificatePem),
        note: 'the new site server accepted this device; the previous endpoint is kept as fallback',
      });
  }

  linkOffline(): void {
    if (this.downSinceMs === null) {
      this.downSinceMs = this.deps.clock.now();
      this.scheduleCheck(this.checkAfterMs);
    }
    if (!this.trial || ++this.trial.failures < TRIAL_ATTEMPTS) return;
    this.deps.logger.warn('site_endpoint_trial_failed', {
      candidate: this.trial.connection.mqtt.url,
      attempts: this.trial.failures,
      note: 'going back to the endpoint that worked; the new one is tried again later',
    });
    this.trial = null;
    this.retargetTo(this.registered().mqtt);
    this.scheduleTrialRetry();
  }

  /** For `status` and the heartbeat: which endpoint and CAs are in use, and what else is held. */
  describe(): SiteEndpoint {
    const target = this.target();
    const candidate = this.deps.state.siteEndpoints.candidate();
    return {
      mqttUrl: target.url,
      trial: this.trial !== null,
      caFingerprints: caFingerprints(target.caCertificatePem),
      candidateUrl: candidate?.connection.mqtt.url ?? null,
      fallbackUrl: this.deps.state.siteEndpoints.fallback()?.mqtt.url ?? null,
    };
  }

  private get checkAfterMs(): number {
    return this.deps.checkAfterMs ?? DEFAULT_SITE_CHECK_AFTER_MS;
  }

  private registered() {
    const reg = this.deps.state.registration.get();
    if (!reg) throw new Error('not paired');
    return reg.config.siteServer;
  }

  private beginTrial(): MqttConfig {
    const candidate = this.deps.state.siteEndpoints.candidate();
    if (!candidate) return this.target();
    this.trial = { connection: candidate.connection, failures: 0 };
    this.deps.logger.info('site_endpoint_trial', {
      from: this.registered().mqtt.url,
      to: candidate.connection.mqtt.url,
      cas: caFingerprints(candidate.connection.mqtt.caCertificatePem),
    });
    return this.target();
  }

  private retargetTo(mqtt: MqttConfig): void {
    if (!this.stopped) this.deps.retarget(mqtt);
  }

  private scheduleTrialRetry(): void {
    if (this.trialTimer) clearTimeout(this.trialTimer);
    this.trialTimer = setTimeout(() => {
      this.trialTimer = null;
      if (!this.stopped && !this.trial && this.deps.state.siteEndpoints.candidate()) this.retargetTo(this.beginTrial());
    }, this.trialBackoff.next());
    this.trialTimer.unref?.();
  }

  private scheduleCheck(delayMs: number): void {
    if (this.stopped) return;
    if (this.checkTimer) clearTimeout(this.checkTimer);
    this.checkTimer = setTimeout(() => {
      this.checkTimer = null;
      this.check().then(
        () => undefined,
        (error: unknown) => this.deps.logger.warn('site_check_failed', { error }),
      );
    }, delayMs);
    this.checkTimer.unref?.();
  }

  /** The link has been down for the configured while: ask the cloud, else go back to the fallback. */
  private async check(): Promise<void> {
    if (this.stopped || this.downSinceMs === null) return;
    this.deps.logger.warn('site_server_unreachable_asking_cloud', {
      downForMs: this.deps.clock.now() - this.downSinceMs,
      mqtt: this.target().url,
    });
    const asked = await this.deps.askCloud().then(
      () => true,
      () => false,
    );
    if (this.stopped || this.downSinceMs === null) return;
    if (!this.trial && this.deps.state.siteEndpoints.offerFallback(new Date(this.deps.clock.now()).toISOString())) {
      this.deps.logger.warn('site_endpoint_fallback', {
        to: this.deps.state.siteEndpoints.fallback()?.mqtt.url,
        cloudAnswered: asked,
        note: 'the endpoint in use stopped working; trying the one used before it',
      });
      this.retargetTo(this.beginTrial());
    }
    this.scheduleCheck(this.askBackoff.next());
  }
}
