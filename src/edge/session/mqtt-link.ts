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
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { MAX_PAYLOAD_BYTES, type MqttConfig } from '../../protocol/index.js';
import { Backoff, type BackoffPolicy } from '../backoff.js';
import type { Logger } from '../../common/log/log.js';
import { BUSY_MIN_DELAY_MS, connackReason, disconnectReason, type Reason } from './mqtt-reasons.js';
import { describeTlsError, pinnedTlsOptions, type PinnedTlsOptions } from './tls.js';

/** The next attempt when scheduling one failed (a bug, not a broker answer): never leave the link idle. */
const RETRY_FALLBACK_MS = 5_000;
/** Room for the fixed header, topic and properties around the largest payload the contract allows. */
const PACKET_HEADROOM_BYTES = 16 * 1024;

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

export function mqttConnectOptions(
  config: MqttConfig,
): Pick<IClientOptions, 'host' | 'port' | 'protocol'> & Partial<PinnedTlsOptions> {
  const url = new URL(config.url);
  const secure = url.protocol === 'mqtts:';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  // Options, not a URL string: compiled Bun prints a url.parse() deprecation warning for strings.
  return {
    host,
    port: Number(url.port || (secure ? 8883 : 1883)),
    protocol: secure ? 'mqtts' : 'mqtt',
    // With a delivered CA it is the only one trusted; host names are verified either way.
    ...(secure ? pinnedTlsOptions(host, config.caCertificatePem) : {}),
  };
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

  private attempt(): void {
    if (this.stopped) return;
    const { options } = this;
    const version = this.version;
    options.onState('connecting', {});
    let reason: Reason | null = null;
    let refusedCode: number | null = null;
    let failure: unknown;
    let phase: 'transport' | 'connack' | 'online' = 'transport';
    let closed = false;
    const client = mqtt.connect({
      ...mqttConnectOptions(options.mqtt),
      clientId: options.clientId,
      username: options.clientId,
      password: options.password(),
      clean: true,
      protocolVersion: version,
      keepalive: options.mqtt.keepaliveSeconds,
      reconnectPeriod: 0,
      connectTimeout: options.connectTimeoutMs ?? 10_000,
      will: { topic: options.will.topic, payload: Buffer.from(options.will.payload), qos: 1, retain: true },
      ...(version === 5
        ? {
            // Session expiry 0: the broker keeps nothing for us between connections; the outbox is the durable queue.
            // Topic aliases shorten the long per-edge topics, up to the limit the server announces in CONNACK.
            // Maximum packet size: a compliant broker then never sends this device more than it would refuse anyway.
            properties: {
              sessionExpiryInterval: 0,
              receiveMaximum: 32,
              topicAliasMaximum: 0,
              requestProblemInformation: true,
              maximumPacketSize: MAX_PAYLOAD_BYTES + PACKET_HEADROOM_BYTES,
            },
            autoAssignTopicAlias: true,
          }
        : {}),
    });
    this.client = client;
    const stream = client.stream as Socket | undefined;
    stream?.once('connect', () => {
      if (phase === 'transport' && !options.mqtt.url.startsWith('mqtts:')) phase = 'connack';
    });
    stream?.once('secureConnect', () => {
      if (phase === 'transport') phase = 'connack';
    });
    // mqtt.js closes silently when CONNACK does not come in time: time it ourselves to say so.
    const connackTimer = setTimeout(
      () => {
        if (phase !== 'online') failure = new Error(`timeout:${phase}`);
      },
      Math.max(0, (options.connectTimeoutMs ?? 10_000) - 50),
    );

    client.on('connect', (connack) => {
      if (this.client !== client) return;
      clearTimeout(connackTimer);
      phase = 'online';
      this.connected = true;
      // mqtt.js applies the server keep-alive and topic alias maximum itself; receive maximum is ours to honour.
      this.inflightLimit = connack.properties?.receiveMaximum ?? 65_535;
      this.stableTimer = setTimeout(() => this.backoff.reset(), options.stableAfterMs ?? 60_000);
      options.logger.info('mqtt_connected', {
        protocolVersion: version,
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
      client.subscribe(options.subscriptions, { qos: 1 }, (error) => {
        if (error) options.logger.warn('mqtt_subscribe_failed', { error });
      });
      options.onState('online', {});
      options.onConnect();
    });
    client.on('message', (topic, payload) => {
      try {
        options.onTraffic?.('in', topic, payload);
        options.onMessage(topic, payload);
      } catch (error) {
        options.logger.error('mqtt_message_handler_failed', { topic, error });
      }
    });
    client.on('disconnect', (packet) => {
      const code = packet.reasonCode ?? 0;
      reason = disconnectReason(code, packet.properties?.reasonString, packet.properties?.serverReference);
      options.logger.warn('mqtt_server_disconnect', { reasonCode: code, text: reason.text });
    });
    client.on('error', (error) => {
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'number' && phase !== 'online') {
        refusedCode = code;
        reason = connackReason(code, version);
      } else {
        failure ??= error;
      }
      options.logger.debug('mqtt_error', { error });
    });
    client.on('close', () => {
      if (closed || this.client !== client) return;
      closed = true;
      clearTimeout(connackTimer);
      const wasConnected = this.connected;
      this.connected = false;
      this.wakeAll();
      if (this.stableTimer) clearTimeout(this.stableTimer);
      client.end(true);
      if (this.stopped) return;
      const current: Reason | null = reason;
      if (current?.action === 'downgrade' && version === 5) {
        this.version = 4;
        options.logger.info('mqtt_protocol_fallback', {
          from: 5,
          to: 4,
          broker: options.mqtt.url,
          note: 'the broker does not speak MQTT 5; using 3.1.1 for this session',
        });
        this.retryTimer = setTimeout(() => this.attempt(), 0);
        return;
      }
      const error = current?.text ?? this.failureText(failure, wasConnected ? 'online' : phase);
      const refused = current?.action === 'refresh';
      options.onState('offline', { error, refused });
      this.scheduleRetry(current, refusedCode, error, refused).catch((retryError: unknown) => {
        // Never leave the link without a next attempt.
        options.logger.error('mqtt_reconnect_schedule_failed', { error: retryError });
        if (!this.stopped) this.retryTimer = setTimeout(() => this.attempt(), RETRY_FALLBACK_MS);
      });
    });
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
