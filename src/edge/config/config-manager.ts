/**
 * The running config: applies decisions (one transaction: the new config and its history entry), tells
 * listeners (heartbeat interval, the outbox's buffer limits) without a restart, and builds the report.
 */
import type { ConfigReported } from '../../protocol/index.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../../common/log/log.js';
import type { EdgeStores } from '../stores/index.js';
import type { RuntimeConfig, VersionedConfig } from '../stores/config-store.js';
import { decideConfigPush } from './decide.js';

export type ConfigListener = (config: RuntimeConfig, previous: RuntimeConfig) => void;

export class ConfigManager {
  private readonly listeners = new Set<ConfigListener>();
  private running: VersionedConfig;

  constructor(
    private readonly state: EdgeStores,
    private readonly clock: Clock,
    private readonly logger: Logger,
    fallback: VersionedConfig,
  ) {
    this.running = state.config.current() ?? fallback;
  }

  get current(): VersionedConfig {
    return this.running;
  }

  onChange(listener: ConfigListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Handles one P/config payload; returns the report to publish (retained) on P/config/reported. */
  handlePush(payload: Uint8Array | string): ConfigReported {
    const at = new Date(this.clock.now()).toISOString();
    const decision = decideConfigPush(this.running, payload);
    if (decision.kind === 'ignore') {
      return { version: this.running.version, status: 'applied', ts: at };
    }
    if (decision.kind === 'reject') {
      try {
        this.state.db.transaction(() =>
          this.state.config.record(decision.version, 'rejected', undefined, decision.reason.slice(0, 2000), at),
        );
      } catch (error) {
        // The history row is a record, not the decision: the push is refused either way.
        this.logger.warn('config_history_not_saved', { version: decision.version, error });
      }
      this.logger.warn('config_rejected', {
        version: decision.version,
        reason: decision.reason,
        runningVersion: this.running.version,
      });
      return { version: decision.version, status: 'rejected', error: decision.reason.slice(0, 2000), ts: at };
    }
    try {
      this.state.db.transaction(() => {
        this.state.config.setCurrent(decision.next, at);
        this.state.config.record(decision.next.version, 'applied', decision.patch, null, at);
      });
    } catch (error) {
      // A config that is not saved is not applied: after a restart the device would silently run the old one.
      const reason = `the edge could not save config version ${decision.next.version} (${(error as Error).message}); it keeps running version ${this.running.version}`;
      this.logger.error('config_not_saved', { version: decision.next.version, error });
      return { version: decision.next.version, status: 'rejected', error: reason.slice(0, 2000), ts: at };
    }
    const previous = this.running.config;
    this.running = decision.next;
    this.logger.info('config_applied', { version: decision.next.version });
    for (const listener of this.listeners) {
      try {
        listener(decision.next.config, previous);
      } catch (error) {
        this.logger.error('config_listener_failed', { error });
      }
    }
    return { version: decision.next.version, status: 'applied', ts: at };
  }
}
