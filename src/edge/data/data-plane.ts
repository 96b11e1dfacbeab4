/**
 * The data path of `run`: producers (the local producer API and the built-in system metrics) → the outbox →
 * the drainer → the session's MQTT link. One instance per session, all state on the instance (the HIL fleet
 * simulator hosts thousands of runtimes in one process).
 *
 * - The drainer runs only while the session is online: started after the retained online status went out on
 *   each CONNACK, stopped on any other state, so a reconnect starts a fresh pass from the oldest unacked row.
 * - Buffer limits and `metricsSeconds` follow config pushes without a restart.
 * - `stop()` closes the producer API first (nothing new is acknowledged), commits what producers already handed
 *   over, gives the drainer a short bounded grace to finish in-flight publishes, then stops it. Anything still
 *   queued stays on disk and is sent (marked historical) after the next boot.
 */
import type { Logger } from '../../common/log/log.js';
import type { Clock } from '../clock.js';
import { SystemMetrics } from '../metrics/source.js';
import { Drainer } from '../outbox/drainer.js';
import type { Outbox } from '../outbox/outbox.js';
import type { OutboundMessage } from '../outbox/types.js';
import { startProducerServer, type ProducerServer } from '../producer/server.js';
import { ProducerSocketError } from '../producer/socket-path.js';
import { EdgeError } from '../errors.js';
import type { EdgeSession } from '../session/session.js';
import type { RuntimeConfig } from '../stores/config-store.js';
import type { ProducerEndpoint } from './producer-endpoint.js';

/** Without `metricsSeconds` in the config, a freshly flashed device still reports once a minute. */
export const DEFAULT_METRICS_SECONDS = 60;
/** How long a clean shutdown waits for the drainer to empty the queue while connected. */
const SHUTDOWN_DRAIN_GRACE_MS = 1_500;

export interface DataPlaneOptions {
  outbox: Outbox;
  session: EdgeSession;
  stateDir: string;
  clock: Clock;
  logger: Logger;
  producer: ProducerEndpoint;
  /** For tests of the drainer's pacing; the library default otherwise. */
  replayRate?: { perSecond: number; burst: number } | null;
}

export class DataPlane {
  private readonly drainer: Drainer;
  private readonly metrics: SystemMetrics;
  private producer: ProducerServer | null = null;
  private readonly unsubscribes: Array<() => void> = [];
  private stopped = false;

  constructor(private readonly options: DataPlaneOptions) {
    const { session, outbox, logger } = options;
    this.drainer = new Drainer(outbox, {
      publish: (message) => this.publish(message),
      logger,
      ...(options.replayRate !== undefined ? { replayRate: options.replayRate } : {}),
    });
    this.metrics = new SystemMetrics({
      sink: (records) => outbox.enqueue('telemetry', records),
      stateDir: options.stateDir,
      intervalSeconds: session.config.current.config.metricsSeconds ?? DEFAULT_METRICS_SECONDS,
      clock: options.clock,
      logger,
    });
  }

  /** The producer API's address once started (`http://127.0.0.1:PORT`, `unix:PATH`), or null when off. */
  get producerAddress(): string | null {
    return this.producer?.address ?? null;
  }

  /**
   * Starts the producers and follows the session. A TCP producer API that cannot listen (port taken) is logged
   * and left off: the device still buffers its own metrics and serves the site server, which matters more. A socket
   * path that cannot be used is a misconfiguration: rejects with EdgeError('USAGE') (`run` exits with it).
   */
  async start(): Promise<void> {
    const { session, outbox, logger } = this.options;
    this.unsubscribes.push(session.config.onChange((next, previous) => this.applyConfig(next, previous)));
    const onOnline = () => this.drainer.start();
    const onState = (state: string) => {
      // 'online' here is the CONNACK; the drain itself starts after the birth message (`online` event).
      if (state === 'online') this.drainer.markConnected();
      else this.drainer.stop();
    };
    session.on('online', onOnline);
    session.on('state', onState);
    this.unsubscribes.push(
      () => session.off('online', onOnline),
      () => session.off('state', onState),
    );
    this.metrics.start();
    const endpoint = this.options.producer;
    if (endpoint.kind === 'off') return;
    try {
      this.producer = await startProducerServer({
        outbox,
        logger,
        ...(endpoint.kind === 'socket' ? { socketPath: endpoint.path } : { port: endpoint.port }),
      });
      logger.info('producer_api_listening', { address: this.producer.address });
    } catch (error) {
      // The path is checked again as the server starts (`run` checked it before first-boot pairing, which may
      // have taken minutes): unusable now is the same misconfiguration as at start.
      if (error instanceof ProducerSocketError) throw new EdgeError('USAGE', error.message);
      logger.error('producer_api_unavailable', {
        error,
        hint:
          endpoint.kind === 'socket'
            ? 'the socket could not be created; set --producer-socket or CONSYSTENCE_EDGE_PRODUCER_SOCKET'
            : 'another process holds the port; set --producer-port or CONSYSTENCE_EDGE_PRODUCER_PORT',
      });
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const { outbox, session, logger } = this.options;
    for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe();
    this.metrics.stop();
    await this.producer?.close().catch((error: unknown) => logger.warn('producer_api_close_failed', { error }));
    // Commit what producers were already told is coming (their 202 waits for this commit).
    outbox.flush();
    if (session.isConnected && this.drainer.running) await this.waitForEmpty(SHUTDOWN_DRAIN_GRACE_MS);
    this.drainer.stop();
    outbox.close();
  }

  private applyConfig(next: RuntimeConfig, previous: RuntimeConfig): void {
    const { outbox, logger } = this.options;
    if (
      next.buffer.maxSizeMb !== previous.buffer.maxSizeMb ||
      next.buffer.retentionDays !== previous.buffer.retentionDays
    ) {
      outbox.setLimits(next.buffer);
      logger.info('buffer_limits_applied', { ...next.buffer });
    }
    if (next.metricsSeconds !== previous.metricsSeconds) {
      this.metrics.setInterval(next.metricsSeconds ?? DEFAULT_METRICS_SECONDS);
      logger.info('metrics_interval_applied', { seconds: next.metricsSeconds ?? DEFAULT_METRICS_SECONDS });
    }
  }

  private publish(message: OutboundMessage): Promise<void> {
    const topics = this.options.session.topics;
    return this.options.session.publish(
      message.channel === 'events' ? topics.events : topics.telemetry,
      message.payload,
      { qos: 1 },
    );
  }

  private waitForEmpty(maxMs: number): Promise<void> {
    const { outbox } = this.options;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        unsubscribe();
        resolve();
      };
      const timer = setTimeout(done, maxMs);
      const unsubscribe = outbox.onChange(() => {
        if (outbox.stats().depth === 0) done();
      });
      if (outbox.stats().depth === 0) done();
    });
  }
}
