/**
 * Keeps the cached JWKS and edge list fresh. Runs every `refreshSeconds`; a failed refresh keeps the cached view
 * (the cloud being down must not lock edges out) and is retried on the next tick. `refreshNow()` is shared by
 * concurrent callers, so a burst of unknown edges costs one cloud round trip, not one each.
 */
import type { Logger } from '../../../common/log/log.js';
import type { CloudClient } from './cloud-client.js';
import type { TrustStore } from './trust-store.js';

export interface RefreshResult {
  ok: boolean;
  error?: string;
}

export class TrustRefresher {
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<RefreshResult> | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly cloud: CloudClient,
    private readonly store: TrustStore,
    private readonly siteToken: string,
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  /** Called after every successful refresh (the broker kicks sessions that lost their right to be here). */
  onRefreshed(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    const tick = () => {
      const next = () => {
        if (this.timer) this.timer = setTimeout(tick, this.intervalMs);
      };
      this.refreshNow().then(next, (error: unknown) => {
        this.logger.warn('trust_refresh_failed', { error: (error as Error).message });
        next();
      });
    };
    this.timer = setTimeout(tick, this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  refreshNow(): Promise<RefreshResult> {
    this.inFlight ??= this.refresh().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async refresh(): Promise<RefreshResult> {
    try {
      const [jwks, edges] = await Promise.all([this.cloud.jwks(), this.cloud.edges(this.siteToken)]);
      this.store.replaceTrust({ jwks, edges }, new Date().toISOString());
      this.logger.debug('trust_refreshed', {
        edges: edges.length,
        revoked: edges.filter((e) => e.status === 'revoked').length,
      });
    } catch (error) {
      this.logger.warn('trust_refresh_failed', {
        error: (error as Error).message,
        note: 'keeping the cached JWKS and edge list',
      });
      return { ok: false, error: (error as Error).message };
    }
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (error) {
        this.logger.error('trust_listener_failed', { error });
      }
    }
    return { ok: true };
  }
}
