/**
 * `run`: one paired edge's live session. Wires the MQTT link, the token lifecycle, the heartbeat, config push
 * and commands, and keeps the status snapshot that `status` reads. Everything comes in through `deps`: many
 * sessions can live in one process (the HIL fleet simulator).
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { uptime } from 'node:os';
import { edgeTopics, type CommandResult, type EdgeTopics, type MqttConfig } from '../../protocol/index.js';
import { registerBuiltinCommands } from '../commands/builtin.js';
import { CommandRegistry } from '../commands/registry.js';
import { ConfigManager } from '../config/config-manager.js';
import type { EdgeCore } from '../core.js';
import { EdgeError } from '../errors.js';
import { pairingConfig, type RuntimeConfig } from '../stores/config-store.js';
import type { LifecycleState, StatusSnapshot } from '../stores/status-store.js';
import type { BackoffPolicy } from '../backoff.js';
import {
  heartbeat,
  offlineStatus,
  onlineStatus,
  EMPTY_QUEUE,
  REVOKED_LAST_ERROR,
  type QueueStatsValue,
} from './messages.js';
import { MqttLink, type LinkState, type PublishOptions } from './mqtt-link.js';
import { SiteFollower } from './site-follower.js';
import { TokenManager } from './token-manager.js';

/** Do not ask the cloud for a new token on every refusal: once per this window, then plain backoff. */
const REFRESH_ON_REFUSAL_MIN_INTERVAL_MS = 60_000;
/** A broker refusal this soon after pairing means the site server has not caught up yet (see explainRefusal). */
const RECENT_PAIRING_MS = 15 * 60_000;

export interface SessionDeps extends EdgeCore {
  /** The outbox's stats for the heartbeat (zeros when none is given). */
  queueStats?: () => QueueStatsValue;
  random?: () => number;
  reconnectPolicy?: BackoffPolicy;
  /** How long the site server may stay unreachable before the cloud is asked where it is (default 10 min). */
  siteCheckAfterMs?: number;
}

export interface SessionEvents {
  state: [LifecycleState];
  online: [];
  revoked: [];
  restart: [];
  config: [RuntimeConfig];
  /** A `P/update` message (offer, cancel, or the empty payload that clears it): the update engine's input. */
  update: [Buffer];
  /** Each message published and received (`consystence-edge watch`). */
  traffic: ['out' | 'in', string, string | Buffer];
}

export class EdgeSession extends EventEmitter<SessionEvents> {
  readonly bootId = randomUUID();
  readonly startedAt: string;
  readonly topics: EdgeTopics;
  readonly config: ConfigManager;
  readonly commands: CommandRegistry;
  readonly tokens: TokenManager;
  /** Replaced (never reconfigured) when the device follows its site to another endpoint: see site-follower.ts. */
  private link: MqttLink;
  private readonly follower: SiteFollower;
  /** The broker the current link connects to. */
  private brokerUrl: string;
  private stopping = false;
  /** The machine's uptime at start (/proc/uptime): the heartbeat's `uptimeS` must not follow wall-clock steps. */
  private readonly startedUptimeS = uptime();
  private heartbeatTimer: ReturnType<typeof setInterval> | null = null;
  private current: LifecycleState = 'paired';
  private connectedSince: string | null = null;
  private offlineSince: string | null = null;
  private nextAttemptAt: string | null = null;
  private lastError: string | null = null;
  private unpublishedResults: CommandResult[] = [];
  private lastRefusalRefreshMs = 0;

  constructor(private readonly deps: SessionDeps) {
    super();
    const reg = deps.state.registration.get();
    if (!reg) throw new EdgeError('NOT_PAIRED', "this device is not paired; run 'consystence-edge pair --uri …' first");
    if (reg.revokedAt)
      throw new EdgeError('REVOKED', 'this device was removed from its site; pair it again with a new pairing code');
    this.startedAt = new Date(deps.clock.now()).toISOString();
    this.brokerUrl = reg.config.siteServer.mqtt.url;
    this.topics = edgeTopics(reg.config.siteServer.mqtt.topicPrefix);
    this.config = new ConfigManager(deps.state, deps.clock, deps.logger, pairingConfig(reg.config));
    this.tokens = new TokenManager({
      state: deps.state,
      clock: deps.clock,
      fetch: deps.fetch,
      hardwareId: deps.hardwareId,
      logger: deps.logger,
      ...(deps.random ? { random: deps.random } : {}),
      onRevoked: () => {
        this.revoke().catch((error: unknown) => deps.logger.error('revoke_failed', { error }));
      },
      // On the next turn of the event loop: a rotate-token command that caused this refresh publishes its result
      // first, and the link's clean stop waits for that PUBACK.
      onConnectionOffered: () => setTimeout(() => this.follower.offered(), 0),
    });
    this.follower = new SiteFollower({
      state: deps.state,
      clock: deps.clock,
      logger: deps.logger,
      retarget: (mqtt) => this.retarget(mqtt),
      askCloud: () => this.tokens.refresh('site-unreachable'),
      ...(deps.siteCheckAfterMs !== undefined ? { checkAfterMs: deps.siteCheckAfterMs } : {}),
      ...(deps.random ? { random: deps.random } : {}),
    });
    this.commands = registerBuiltinCommands(new CommandRegistry(deps.state.commands, deps.clock, deps.logger), {
      clock: deps.clock,
      resendStatus: () => this.publishOnline(),
      rotateToken: async () => ({
        expiresAt: new Date((await this.tokens.refresh('command')).tokenExp * 1000).toISOString(),
      }),
      requestRestart: () => setImmediate(() => this.emit('restart')),
    });
    this.link = this.createLink(reg.config.siteServer.mqtt);
    this.config.onChange((next, previous) => {
      if (next.heartbeatSeconds !== previous.heartbeatSeconds) this.startHeartbeat();
      this.emit('config', next);
    });
  }

  /** A link to one endpoint; its events count only while it is the session's current link. */
  private createLink(mqtt: MqttConfig): MqttLink {
    const reg = this.tokens.registration();
    const link: MqttLink = new MqttLink({
      mqtt,
      clientId: reg.edgeId,
      password: () => this.tokens.registration().edgeToken,
      will: { topic: this.topics.status, payload: offlineStatus('lost') },
      subscriptions: [this.topics.config, this.topics.cmd, this.topics.update],
      logger: this.deps.logger,
      ...(this.deps.random ? { random: this.deps.random } : {}),
      ...(this.deps.reconnectPolicy ? { policy: this.deps.reconnectPolicy } : {}),
      onConnect: () => {
        if (this.link === link) this.onConnected().catch(this.logFailure('online_status_failed'));
      },
      onMessage: (topic, payload) => {
        this.onMessage(topic, payload).catch(this.logFailure('mqtt_message_handler_failed'));
      },
      onTraffic: (direction, topic, payload) => this.emit('traffic', direction, topic, payload),
      onState: (state, detail) => {
        if (this.link === link) this.onLinkState(state, detail);
      },
      onAuthRefused: (code) => this.onAuthRefused(code),
    });
    this.brokerUrl = mqtt.url;
    return link;
  }

  private logFailure(event: string): (error: unknown) => void {
    return (error) => this.deps.logger.error(event, { error });
  }

  /** Points the session at another endpoint: the current connection ends cleanly, then the new one is dialled. */
  private retarget(mqtt: MqttConfig): void {
    const previous = this.link;
    const next = this.createLink(mqtt);
    this.link = next;
    this.writeSnapshot();
    previous.stop().then(() => {
      if (this.link === next && !this.stopping) next.start();
    }, this.logFailure('link_stop_failed'));
  }

  get state(): LifecycleState {
    return this.current;
  }

  start(): void {
    this.unpublishedResults = this.commands.settleAfterBoot(this.bootId);
    this.stopping = false;
    this.tokens.start();
    this.startHeartbeat();
    // A candidate saved before a restart is tried first; the endpoint that worked stays the fallback.
    if (this.follower.start()) this.link = this.createLink(this.follower.target());
    this.link.start();
  }

  /** Stops cleanly: retained offline with the reason, then DISCONNECT (no LWT). */
  async stop(reason: 'shutdown' | 'restart' = 'shutdown'): Promise<void> {
    this.stopping = true;
    this.follower.stop();
    this.tokens.stop();
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
    await this.link.stop({ topic: this.topics.status, payload: offlineStatus(reason, this.deps.clock.now()) });
    if (this.current !== 'revoked') this.setState('offline', reason === 'restart' ? 'restarting' : 'stopped');
  }

  /** The seam for the outbox drainer and other producers. */
  publish(topic: string, payload: string | Buffer, options: PublishOptions): Promise<void> {
    return this.link.publish(topic, payload, options);
  }

  get isConnected(): boolean {
    return this.link.isConnected;
  }

  /** `queue`: stats the caller already read (the heartbeat reports the same ones); read now otherwise. */
  snapshot(queue: QueueStatsValue = this.queue()): StatusSnapshot {
    return {
      state: this.current,
      pid: process.pid,
      bootId: this.bootId,
      startedAt: this.startedAt,
      brokerUrl: this.brokerUrl,
      connectedSince: this.connectedSince,
      offlineSince: this.current === 'online' ? null : this.offlineSince,
      nextAttemptAt: this.current === 'offline' ? this.nextAttemptAt : null,
      lastError: this.lastError ?? this.tokens.lastError,
      queue: { depth: queue.depth, bytes: queue.bytes, oldestTs: queue.oldestTs },
      configVersion: this.config.current.version,
      ...this.siteEndpoint(),
    };
  }

  private siteEndpoint(): Pick<StatusSnapshot, 'siteEndpoint'> {
    try {
      return { siteEndpoint: this.follower.describe() };
    } catch {
      return {};
    }
  }

  private queue(): QueueStatsValue {
    try {
      return this.deps.queueStats?.() ?? EMPTY_QUEUE;
    } catch {
      return EMPTY_QUEUE;
    }
  }

  private async publishOnline(): Promise<void> {
    await this.link.publish(
      this.topics.status,
      onlineStatus({
        version: this.deps.version,
        bootId: this.bootId,
        startedAt: this.startedAt,
        nowMs: this.deps.clock.now(),
      }),
      { qos: 1, retain: true },
    );
  }

  private async onConnected(): Promise<void> {
    await this.publishOnline();
    const pending = this.unpublishedResults;
    for (const result of pending) await this.link.publish(this.topics.cmdResult, JSON.stringify(result), { qos: 1 });
    this.unpublishedResults = this.unpublishedResults.filter((r) => !pending.includes(r));
    this.emit('online');
  }

  private async onMessage(topic: string, payload: Buffer): Promise<void> {
    if (topic === this.topics.config) {
      const report = this.config.handlePush(payload);
      await this.link
        .publish(this.topics.configReported, JSON.stringify(report), { qos: 1, retain: true })
        .catch((error) => this.deps.logger.warn('config_report_failed', { error }));
    } else if (topic === this.topics.cmd) {
      const outcome = await this.commands.handle(payload);
      if (outcome.publish)
        await this.link
          .publish(this.topics.cmdResult, JSON.stringify(outcome.publish), { qos: 1 })
          .catch((error) => this.deps.logger.warn('command_result_failed', { error }));
    } else if (topic === this.topics.update) {
      this.emit('update', payload);
    } else {
      this.deps.logger.debug('mqtt_unexpected_topic', { topic });
    }
  }

  private async onAuthRefused(code: number): Promise<boolean> {
    const now = this.deps.clock.now();
    if (now - this.lastRefusalRefreshMs < REFRESH_ON_REFUSAL_MIN_INTERVAL_MS) return false;
    this.lastRefusalRefreshMs = now;
    this.deps.logger.warn('mqtt_credentials_refused', { reasonCode: code });
    try {
      await this.tokens.refresh('connack-refused');
      return true;
    } catch {
      return false;
    }
  }

  private async revoke(): Promise<void> {
    this.lastError = REVOKED_LAST_ERROR;
    this.setState('revoked');
    await this.stop('shutdown');
    this.emit('revoked');
  }

  private onLinkState(state: LinkState, detail: { error?: string; refused?: boolean; retryInMs?: number }): void {
    if (this.current === 'revoked' || state === 'stopped') return;
    const now = this.deps.clock.now();
    if (state === 'online') {
      this.connectedSince = new Date(now).toISOString();
      this.offlineSince = null;
      this.nextAttemptAt = null;
      this.lastError = null;
      this.follower.linkOnline();
    } else if (state === 'offline') {
      this.connectedSince = null;
      this.offlineSince ??= new Date(now).toISOString();
      this.nextAttemptAt = detail.retryInMs !== undefined ? new Date(now + detail.retryInMs).toISOString() : null;
      if (detail.error) this.lastError = detail.refused ? this.explainRefusal(detail.error, now) : detail.error;
      this.follower.linkOffline();
    } else {
      // Until the first connection the outage counts from the start of the service.
      this.offlineSince ??= this.startedAt;
      this.nextAttemptAt = null;
    }
    this.setState(state);
  }

  /**
   * A broker refusing a token the cloud issued minutes ago is the site server lagging, not a revocation: it learns
   * of new registrations from the cloud on its refresh interval. Saying "revoked" sent technicians to re-pair.
   */
  private explainRefusal(error: string, now: number): string {
    const pairedAt = Date.parse(this.tokens.registration().pairedAt);
    if (!(now - pairedAt < RECENT_PAIRING_MS)) return error;
    return `the site server has not yet learned of this device's new registration (paired ${new Date(pairedAt).toISOString()}) and refused its token; it fetches new registrations from the cloud periodically, and this device keeps retrying. If it lasts more than a few minutes, check the site server's connection to the cloud`;
  }

  private setState(state: LifecycleState, note?: string): void {
    const changed = state !== this.current;
    this.current = state;
    this.writeSnapshot();
    if (changed) {
      this.deps.logger.info('state', {
        state,
        ...(note ? { note } : {}),
        ...(this.lastError && state !== 'online' ? { lastError: this.lastError } : {}),
      });
      this.emit('state', state);
    }
  }

  private writeSnapshot(queue?: QueueStatsValue): void {
    try {
      this.deps.state.status.write(this.snapshot(queue), new Date(this.deps.clock.now()).toISOString());
    } catch (error) {
      this.deps.logger.warn('status_snapshot_failed', { error });
    }
  }

  private heartbeatSite() {
    const { siteEndpoint } = this.siteEndpoint();
    return siteEndpoint
      ? {
          site: {
            mqttUrl: siteEndpoint.mqttUrl,
            trial: siteEndpoint.trial,
            caFingerprints: siteEndpoint.caFingerprints,
          },
        }
      : {};
  }

  private startHeartbeat(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => {
      // One read of the queue stats per tick, for both the snapshot and the heartbeat.
      const queue = this.queue();
      this.writeSnapshot(queue);
      if (!this.link.isConnected) return;
      const payload = heartbeat({
        nowMs: this.deps.clock.now(),
        uptimeS: uptime() - this.startedUptimeS,
        queue,
        clockSkewMs: this.deps.clock.skewMs,
        ...this.heartbeatSite(),
      });
      this.link.publish(this.topics.heartbeat, payload, { qos: 0 }).catch(() => {});
    }, this.config.current.config.heartbeatSeconds * 1000);
  }
}
