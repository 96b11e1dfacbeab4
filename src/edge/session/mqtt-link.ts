/**
 * The connection to the site server. mqtt.js's own reconnect replays the options of the first CONNECT, so an
 * expired token would be sent forever (MQTT.js #1473): here every attempt is a fresh client built with the
 * password read at that moment, mqtt.js reconnect is off, and the loop is ours: capped exponential backoff with
 * full jitter (~1 s to 60 s), reset once a connection has held for 60 s.
 *
 * MQTT 5 first; a broker that refuses the protocol version (aedes answers 1, a v5 broker 0x84) is retried at once
 * with 3.1.1, and that choice is kept for this link's life (its URL never changes). Refusals and server
 * DISCONNECTs are classified in mqtt-reasons.ts: credentials → token refresh, busy/quota → a longer wait. Every
 * failure, TLS included, ends as one sentence in `status` (`lastError`) and a scheduled retry: never a hang.
 */
import type { Socket } from 'node:net';
import mqtt, { type IConnackPacket, type IDisconnectPacket, type MqttClient } from 'mqtt';
import type { MqttConfig } from '../../protocol/index.js';
import { Backoff, type BackoffPolicy } from '../backoff.js';
import type { Logger } from '../../common/log/log.js';
import { BUSY_MIN_DELAY_MS, connackReason, disconnectReason, type Reason } from './mqtt-reasons.js';
import { linkClientOptions } from './connect-options.js';
import { describeTlsError } from './tls.js';

/** The next attempt when scheduling one failed (a bug, not a broker answer): never leave the link idle. */
const RETRY_FALLBACK_MS = 5_000;
export const RECONNECT_POLICY: BackoffPolicy = { baseMs: 1_000, capMs: 60_000, minMs: 500, maxHintMs: 5 * 60_000 };

export interface PublishOptions {
  qos: 0 | 1;
  retain?: boolean;
}
export type LinkState = 'connecting' | 'online' | 'offline' | 'stopped';

export interface MqttLinkOptions {
  mqtt: MqttConfig;
  clientId: string;
  /** Read at every connect attempt. */
  password: () => string;
  will: { topic: string; payload: string };
  subscriptions: string[];
  logger: Logger;
  policy?: BackoffPolicy;
  stableAfterMs?: number;
  /** How long TCP + TLS + CONNACK may take before the attempt is abandoned. */
  connectTimeoutMs?: number;
  random?: () => number;
  /** 5 (default) or 4 to start with 3.1.1. */
  protocolVersion?: 4 | 5;
  onConnect: () => void;
  onMessage: (topic: string, payload: Buffer) => void;
  /** Every message published (once the broker took it) and received, for `consystence-edge watch`. */
  onTraffic?: (direction: 'out' | 'in', topic: string, payload: string | Buffer) => void;
  /**
   * `refused`: the broker refused this device's credentials (CONNACK 4/5, 0x86/0x87). `retryInMs`, with
   * 'offline': when the next attempt is due, for `status`.
   */
  onState: (state: LinkState, detail: { error?: string; refused?: boolean; retryInMs?: number }) => void;
  /** A credentials refusal: refresh if possible. Resolves true to retry at once, false to back off. */
  onAuthRefused: (code: number) => Promise<boolean>;
}

/** What one connect attempt learned, read when its client closes. */
interface Attempt {
  client: MqttClient;
  version: 4 | 5;
  /** How far it got: a failure says which step did not finish. */
  phase: 'transport' | 'connack' | 'online';
  /** The broker's own word: a CONNACK refusal or a server DISCONNECT. */
  reason: Reason | null;
  refusedCode: number | null;
  /** The first transport failure (or our CONNACK timeout), when the broker said nothing. */
  failure: unknown;
}

/** Why one attempt ended, as the technician reads it. */
export function describeLinkFailure(
  config: MqttConfig,
  error: unknown,
  phase: 'transport' | 'connack' | 'online',
): string {
  const url = new URL(config.url);
  const tls = describeTlsError(error, 'site server', url.hostname, config.caCertificatePem !== undefined);
  if (tls) return tls;
  const code = (error as { code?: unknown } | undefined)?.code;
  const where = `the site server at ${config.url}`;
  if (code === 'ECONNREFUSED')
    return `nothing is listening at ${url.host} (ECONNREFUSED); check that the site server is running and the port is right`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return `cannot resolve ${url.hostname} (${code}); check DNS or the site server address`;
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH')
    return `cannot reach ${url.hostname} (${code}); check the network and routes`;
  if (phase === 'connack')
    return `${where} closed the connection during MQTT CONNECT without answering; check the broker's log (TLS/plain port mix-up, listener limits)`;
  if (phase === 'transport')
    return `cannot connect to ${where}${typeof code === 'string' ? ` (${code})` : error ? ` (${(error as Error).message})` : ''}`;
  return 'the connection to the site server was lost';
}

export class MqttLink {
  private client: MqttClient | null = null;
  private connected = false;
  private stopped = true;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private stableTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly backoff: Backoff;
  private version: 4 | 5;
  /** The server's Receive Maximum (MQTT 5): QoS 1 publishes in flight never exceed it. */
  private inflightLimit = 65_535;
  private inflight = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly options: MqttLinkOptions) {
    this.backoff = new Backoff(options.policy ?? RECONNECT_POLICY, options.random);
    this.version = options.protocolVersion ?? 5;
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** The MQTT version in use (or to be tried next). */
  get protocolVersion(): 4 | 5 {
    return this.version;
  }

  /** How many QoS 1 publishes the server accepts in flight (65535 with 3.1.1); for the outbox's window. */
  get receiveMaximum(): number {
    return this.inflightLimit;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.attempt();
  }

  /** Publishes on the live connection; rejects when there is none (the outbox keeps what must not be lost). */
  async publish(topic: string, payload: string | Buffer, options: PublishOptions): Promise<void> {
    if (options.qos === 1) await this.acquire();
    try {
      const client = this.client;
      if (!client || !this.connected) throw new Error('not connected to the site server');
      await new Promise<void>((resolve, reject) => {
        client.publish(topic, payload, { qos: options.qos, retain: options.retain ?? false }, (error) =>
          error ? reject(error) : resolve(),
        );
      });
      this.options.onTraffic?.('out', topic, payload);
    } finally {
      if (options.qos === 1) this.release();
    }
  }

  /** Stops for good: an optional last retained message, then a clean DISCONNECT (so the will is not sent). */
  async stop(last?: { topic: string; payload: string }, timeoutMs = 2_000): Promise<void> {
    this.stopped = true;
    this.clearTimers();
    this.wakeAll();
    const client = this.client;
    this.client = null;
    if (!client) return;
    if (last && this.connected) {
      await withTimeout(
        new Promise<void>((resolve) =>
          client.publish(last.topic, last.payload, { qos: 1, retain: true }, () => resolve()),
        ),
        timeoutMs,
      );
    }
    this.connected = false;
    await withTimeout(new Promise<void>((resolve) => client.end(false, {}, () => resolve())), timeoutMs);
    client.end(true);
    this.options.onState('stopped', {});
  }

  private acquire(): Promise<void> {
    if (this.inflight < this.inflightLimit || !this.connected) {
      this.inflight++;
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.waiting.push(() => {
        this.inflight++;
        resolve();
      }),
    );
  }

  private release(): void {
    this.inflight--;
    this.waiting.shift()?.();
  }

  /** On a lost link the waiting publishes proceed and fail fast ("not connected"), so nothing waits forever. */
  private wakeAll(): void {
    for (const wake of this.waiting.splice(0)) wake();
  }

  /** One connect attempt: a fresh client (fresh password), whose close decides the next attempt. */
  private attempt(): void {
    if (this.stopped) return;
    const { options } = this;
    const version = this.version;
    options.onState('connecting', {});
    const client = mqtt.connect(linkClientOptions(options, version));
    this.client = client;
    const attempt: Attempt = {
      client,
      version,
      phase: 'transport',
      reason: null,
      refusedCode: null,
      failure: undefined,
    };
    const connackTimer = this.trackPhase(attempt);
    client.on('connect', (connack) => {
      if (this.client !== client) return;
      clearTimeout(connackTimer);
      this.onConnected(attempt, connack);
    });
    client.on('message', (topic, payload) => this.deliver(topic, payload));
    client.on('disconnect', (packet) => this.onServerDisconnect(attempt, packet));
    client.on('error', (error) => this.onClientError(attempt, error));
    let closed = false;
    client.on('close', () => {
      if (closed || this.client !== client) return;
      closed = true;
      clearTimeout(connackTimer);
      this.onClosed(attempt);
    });
  }

  /**
   * Follows the attempt from transport to CONNACK, so a failure names how far it got. mqtt.js closes silently when
   * CONNACK does not come in time: the returned timer notes that to say so.
   */
  private trackPhase(attempt: Attempt): ReturnType<typeof setTimeout> {
    const stream = attempt.client.stream as Socket | undefined;
    stream?.once('connect', () => {
      if (attempt.phase === 'transport' && !this.options.mqtt.url.startsWith('mqtts:')) attempt.phase = 'connack';
    });
    stream?.once('secureConnect', () => {
      if (attempt.phase === 'transport') attempt.phase = 'connack';
    });
    return setTimeout(
      () => {
        if (attempt.phase !== 'online') attempt.failure = new Error(`timeout:${attempt.phase}`);
      },
      Math.max(0, (this.options.connectTimeoutMs ?? 10_000) - 50),
    );
  }

  private onConnected(attempt: Attempt, connack: IConnackPacket): void {
    const { options } = this;
    attempt.phase = 'online';
    this.connected = true;
    // mqtt.js applies the server keep-alive and topic alias maximum itself; receive maximum is ours to honour.
    this.inflightLimit = connack.properties?.receiveMaximum ?? 65_535;
    this.stableTimer = setTimeout(() => this.backoff.reset(), options.stableAfterMs ?? 60_000);
    options.logger.info('mqtt_connected', {
      protocolVersion: attempt.version,
      ...(connack.properties?.serverKeepAlive !== undefined
        ? { serverKeepAlive: connack.properties.serverKeepAlive }
        : {}),
      ...(connack.properties?.receiveMaximum !== undefined
        ? { receiveMaximum: connack.properties.receiveMaximum }
        : {}),
      ...(connack.properties?.topicAliasMaximum !== undefined
        ? { topicAliasMaximum: connack.properties.topicAliasMaximum }
        : {}),
    });
    attempt.client.subscribe(options.subscriptions, { qos: 1 }, (error) => {
      if (error) options.logger.warn('mqtt_subscribe_failed', { error });
    });
    options.onState('online', {});
    options.onConnect();
  }

  /** A message to our handler; its failure is logged, never allowed to break the link. */
  private deliver(topic: string, payload: Buffer): void {
    try {
      this.options.onTraffic?.('in', topic, payload);
      this.options.onMessage(topic, payload);
    } catch (error) {
      this.options.logger.error('mqtt_message_handler_failed', { topic, error });
    }
  }

  private onServerDisconnect(attempt: Attempt, packet: IDisconnectPacket): void {
    const code = packet.reasonCode ?? 0;
    attempt.reason = disconnectReason(code, packet.properties?.reasonString, packet.properties?.serverReference);
    this.options.logger.warn('mqtt_server_disconnect', { reasonCode: code, text: attempt.reason.text });
  }

  /** A numeric code before going online is the broker's CONNACK refusal; anything else is the first failure seen. */
  private onClientError(attempt: Attempt, error: Error): void {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'number' && attempt.phase !== 'online') {
      attempt.refusedCode = code;
      attempt.reason = connackReason(code, attempt.version);
    } else {
      attempt.failure ??= error;
    }
    this.options.logger.debug('mqtt_error', { error });
  }

  private onClosed(attempt: Attempt): void {
    const { options } = this;
    const wasConnected = this.connected;
    this.connected = false;
    this.wakeAll();
    if (this.stableTimer) clearTimeout(this.stableTimer);
    attempt.client.end(true);
    if (this.stopped) return;
    const { reason } = attempt;
    if (reason?.action === 'downgrade' && attempt.version === 5) {
      this.fallBackToMqtt311();
      return;
    }
    const error = reason?.text ?? this.failureText(attempt.failure, wasConnected ? 'online' : attempt.phase);
    const refused = reason?.action === 'refresh';
    options.onState('offline', { error, refused });
    this.scheduleRetry(reason, attempt.refusedCode, error, refused).catch((retryError: unknown) => {
      // Never leave the link without a next attempt.
      options.logger.error('mqtt_reconnect_schedule_failed', { error: retryError });
      if (!this.stopped) this.retryTimer = setTimeout(() => this.attempt(), RETRY_FALLBACK_MS);
    });
  }

  private fallBackToMqtt311(): void {
    this.version = 4;
    this.options.logger.info('mqtt_protocol_fallback', {
      from: 5,
      to: 4,
      broker: this.options.mqtt.url,
      note: 'the broker does not speak MQTT 5; using 3.1.1 for this session',
    });
    this.retryTimer = setTimeout(() => this.attempt(), 0);
  }

  private failureText(failure: unknown, phase: 'transport' | 'connack' | 'online'): string {
    const timeout = failure instanceof Error && failure.message.startsWith('timeout:');
    const seconds = (this.options.connectTimeoutMs ?? 10_000) / 1000;
    if (timeout && failure.message === 'timeout:connack') {
      return `the site server at ${this.options.mqtt.url} accepted the connection but did not answer MQTT CONNECT within ${seconds} s; check the broker (overloaded, or not an MQTT listener)`;
    }
    if (timeout)
      return `no connection to the site server at ${this.options.mqtt.url} within ${seconds} s (firewall, or the wrong address?)`;
    return describeLinkFailure(this.options.mqtt, failure, phase);
  }

  private async scheduleRetry(
    reason: Reason | null,
    code: number | null,
    error: string,
    refused: boolean,
  ): Promise<void> {
    let retryNow = false;
    if (reason?.action === 'refresh') {
      try {
        retryNow = await this.options.onAuthRefused(code ?? 0x87);
      } catch {
        retryNow = false;
      }
    }
    if (this.stopped) return;
    const busy = reason?.action === 'busy';
    const delay = retryNow ? Math.min(this.backoff.next(), 1_000) : this.backoff.next(busy ? BUSY_MIN_DELAY_MS : null);
    this.options.logger.info('mqtt_reconnect_scheduled', {
      delayMs: delay,
      attempt: this.backoff.attempts,
      ...(busy ? { reason: 'server busy' } : {}),
    });
    this.retryTimer = setTimeout(() => this.attempt(), delay);
    this.options.onState('offline', { error, refused, retryInMs: delay });
  }

  private clearTimers(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.stableTimer) clearTimeout(this.stableTimer);
    this.retryTimer = null;
    this.stableTimer = null;
  }
}

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    promise.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      () => {
        clearTimeout(timer);
        resolve();
      },
    );
  });
}
