/**
 * `run`: one paired edge's live session. Wires the MQTT link, the token lifecycle, the heartbeat, config push
 * and commands, and keeps the status snapshot that `status` reads. Everything comes in through `deps`: many
 * sessions can live in one process (the HIL fleet simulator).
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { edgeTopics, type CommandResult, type EdgeTopics } from '../../protocol/index.js';
import { registerBuiltinCommands } from '../commands/builtin.js';
import { CommandRegistry } from '../commands/registry.js';
import { ConfigManager } from '../config/config-manager.js';
import type { EdgeCore } from '../core.js';
import { EdgeError } from '../errors.js';
import { pairingConfig, type RuntimeConfig } from '../stores/config-store.js';
import type { LifecycleState, StatusSnapshot } from '../stores/status-store.js';
import type { BackoffPolicy } from '../backoff.js';
import { heartbeat, offlineStatus, onlineStatus, EMPTY_QUEUE, type QueueStatsValue } from './messages.js';
import { MqttLink, type LinkState, type PublishOptions } from './mqtt-link.js';
import { TokenManager } from './token-manager.js';

/** Do not ask the cloud for a new token on every refusal: once per this window, then plain backoff. */
const REFRESH_ON_REFUSAL_MIN_INTERVAL_MS = 60_000;

export interface SessionDeps extends EdgeCore {
  /** The outbox's stats for the heartbeat (zeros when none is given). */
  queueStats?: () => QueueStatsValue;
  random?: () => number;
  reconnectPolicy?: BackoffPolicy;
}

export interface SessionEvents {
  state: [LifecycleState];
  online: [];
  revoked: [];
  restart: [];
  config: [RuntimeConfig];
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
  private readonly link: MqttLink;
  /** The broker this session's link connects to: fixed for the session's life, like the link's options. */
  private readonly brokerUrl: string;
  private readonly startedMs: number;
  private heartbeatTimer: ReturnType<typeof setInterval> | null = null;
  private current: LifecycleState = 'paired';
  private connectedSince: string | null = null;
  private lastError: string | null = null;
  private unpublishedResults: CommandResult[] = [];
  private lastRefusalRefreshMs = 0;

  constructor(private readonly deps: SessionDeps) {
    super();
    const reg = deps.state.registration.get();
    if (!reg) throw new EdgeError('NOT_PAIRED', "this device is not paired; run 'consystence-edge pair --uri …' first");
    if (reg.revokedAt)
      throw new EdgeError('REVOKED', 'this device was removed from its site; pair it again with a new pairing code');
    this.startedMs = deps.clock.now();
    this.startedAt = new Date(this.startedMs).toISOString();
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
    });
    this.commands = registerBuiltinCommands(new CommandRegistry(deps.state.commands, deps.clock, deps.logger), {
      clock: deps.clock,
      resendStatus: () => this.publishOnline(),
      rotateToken: async () => ({
        expiresAt: new Date((await this.tokens.refresh('command')).tokenExp * 1000).toISOString(),
      }),
      requestRestart: () => setImmediate(() => this.emit('restart')),
    });
    this.link = new MqttLink({
      mqtt: reg.config.siteServer.mqtt,
      clientId: reg.edgeId,
      password: () => this.tokens.registration().edgeToken,
      will: { topic: this.topics.status, payload: offlineStatus('lost') },
      subscriptions: [this.topics.config, this.topics.cmd],
      logger: deps.logger,
      ...(deps.random ? { random: deps.random } : {}),
      ...(deps.reconnectPolicy ? { policy: deps.reconnectPolicy } : {}),
      onConnect: () => {
        this.onConnected().catch((error: unknown) => deps.logger.warn('online_status_failed', { error }));
      },
      // The handlers answer every failure they can; this catch only keeps a bug from ending the process.
      onMessage: (topic, payload) => {
        this.onMessage(topic, payload).catch((error: unknown) =>
          deps.logger.error('mqtt_message_failed', { topic, error }),
        );
      },
      onTraffic: (direction, topic, payload) => this.emit('traffic', direction, topic, payload),
      onState: (state, detail) => this.onLinkState(state, detail.error),
      onAuthRefused: (code) => this.onAuthRefused(code),
    });
    this.config.onChange((next, previous) => {
      if (next.heartbeatSeconds !== previous.heartbeatSeconds) this.startHeartbeat();
      this.emit('config', next);
    });
  }

  get state(): LifecycleState {
    return this.current;
  }

  start(): void {
    this.unpublishedResults = this.commands.settleAfterBoot(this.bootId);
    this.tokens.start();
    this.startHeartbeat();
    this.link.start();
  }

  /** Stops cleanly: retained offline with the reason, then DISCONNECT (no LWT). */
  async stop(reason: 'shutdown' | 'restart' = 'shutdown'): Promise<void> {
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
      lastError: this.lastError ?? this.tokens.lastError,
      queue: { depth: queue.depth, bytes: queue.bytes, oldestTs: queue.oldestTs },
      configVersion: this.config.current.version,
    };
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
    } else {
      this.deps.logger.debug('mqtt_unexpected_topic', { topic });
    }
  }

  private async onAuthRefused(code: number): Promise<boolean> {
    const now = this.deps.clock.now();
    if (now - this.lastRefusalRefreshMs < REFRESH_ON_REFUSAL_MIN_INTERVAL_MS) return false;
    this.lastRefusalRefreshMs = now;
    this.deps.logger.warn('mqtt_credentials_refused', { code });
    try {
      await this.tokens.refresh('connack-refused');
      return true;
    } catch {
      return false;
    }
  }

  private async revoke(): Promise<void> {
    this.lastError = 'this device was removed from its site (revoked); a new pairing is needed';
    this.setState('revoked');
    await this.stop('shutdown');
    this.emit('revoked');
  }

  private onLinkState(state: LinkState, error?: string): void {
    if (this.current === 'revoked' || state === 'stopped') return;
    if (state === 'online') {
      this.connectedSince = new Date(this.deps.clock.now()).toISOString();
      this.lastError = null;
    } else if (state === 'offline') {
      this.connectedSince = null;
      if (error) this.lastError = error;
    }
    this.setState(state);
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

  private startHeartbeat(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => {
      // One read of the queue stats per tick, for both the snapshot and the heartbeat.
      const queue = this.queue();
      this.writeSnapshot(queue);
      if (!this.link.isConnected) return;
      const payload = heartbeat({
        nowMs: this.deps.clock.now(),
        startedMs: this.startedMs,
        queue,
        clockSkewMs: this.deps.clock.skewMs,
      });
      this.link.publish(this.topics.heartbeat, payload, { qos: 0 }).catch(() => {});
    }, this.config.current.config.heartbeatSeconds * 1000);
  }
}
