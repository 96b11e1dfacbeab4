/**
 * The connection to the site server. mqtt.js's own reconnect replays the options of the first CONNECT, so an
 * expired token would be sent forever (MQTT.js #1473): here every attempt is a fresh client built with the
 * password read at that moment, mqtt.js reconnect is off, and the loop is ours: capped exponential backoff with
 * full jitter (~1 s to 60 s), reset once a connection has held for 60 s. A CONNACK refusal for credentials
 * (3.1.1: 4/5, MQTT 5: 0x86/0x87) asks the owner to refresh the token before the next attempt.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { MqttConfig } from '../../protocol/index.js';
import { Backoff, type BackoffPolicy } from '../backoff.js';
import type { Logger } from '../log.js';

export const RECONNECT_POLICY: BackoffPolicy = { baseMs: 1_000, capMs: 60_000, minMs: 500 };
const AUTH_REFUSED = new Set([4, 5, 0x86, 0x87]);

export interface PublishOptions { qos: 0 | 1; retain?: boolean }
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
  connectTimeoutMs?: number;
  random?: () => number;
  onConnect: () => void;
  onMessage: (topic: string, payload: Buffer) => void;
  onState: (state: LinkState, detail: { error?: string }) => void;
  /** A credentials refusal: refresh if possible. Resolves true to retry at once, false to back off. */
  onAuthRefused: (code: number) => Promise<boolean>;
}

export function mqttConnectOptions(config: MqttConfig): Pick<IClientOptions, 'host' | 'port' | 'protocol' | 'ca' | 'rejectUnauthorized' | 'servername'> {
  const url = new URL(config.url);
  const secure = url.protocol === 'mqtts:';
  // Options, not a URL string: compiled Bun prints a url.parse() deprecation warning for strings.
  return {
    host: url.hostname,
    port: Number(url.port || (secure ? 8883 : 1883)),
    protocol: secure ? 'mqtts' : 'mqtt',
    ...(secure ? { rejectUnauthorized: true, servername: url.hostname } : {}),
    // With a pinned CA it is the only one trusted; host names are still verified.
    ...(secure && config.caCertificatePem ? { ca: config.caCertificatePem } : {}),
  };
}

export class MqttLink {
  private client: MqttClient | null = null;
  private connected = false;
  private stopped = true;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private stableTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly backoff: Backoff;

  constructor(private readonly options: MqttLinkOptions) {
    this.backoff = new Backoff(options.policy ?? RECONNECT_POLICY, options.random);
  }

  get isConnected(): boolean {
    return this.connected;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.attempt();
  }

  /** Publishes on the live connection; rejects when there is none (the outbox keeps what must not be lost). */
  publish(topic: string, payload: string | Buffer, options: PublishOptions): Promise<void> {
    const client = this.client;
    if (!client || !this.connected) return Promise.reject(new Error('not connected to the site server'));
    return new Promise((resolve, reject) => {
      client.publish(topic, payload, { qos: options.qos, retain: options.retain ?? false }, (error) => (error ? reject(error) : resolve()));
    });
  }

  /** Stops for good: an optional last retained message, then a clean DISCONNECT (so the will is not sent). */
  async stop(last?: { topic: string; payload: string }, timeoutMs = 2_000): Promise<void> {
    this.stopped = true;
    this.clearTimers();
    const client = this.client;
    this.client = null;
    if (!client) return;
    if (last && this.connected) {
      await withTimeout(new Promise<void>((resolve) => client.publish(last.topic, last.payload, { qos: 1, retain: true }, () => resolve())), timeoutMs);
    }
    this.connected = false;
    await withTimeout(new Promise<void>((resolve) => client.end(false, {}, () => resolve())), timeoutMs);
    client.end(true);
    this.options.onState('stopped', {});
  }

  private attempt(): void {
    if (this.stopped) return;
    const { options } = this;
    this.options.onState('connecting', {});
    let authCode: number | null = null;
    let lastError: string | undefined;
    let closed = false;
    const client = mqtt.connect({
      ...mqttConnectOptions(options.mqtt),
      clientId: options.clientId,
      username: options.clientId,
      password: options.password(),
      clean: true,
      protocolVersion: 4,
      keepalive: options.mqtt.keepaliveSeconds,
      reconnectPeriod: 0,
      connectTimeout: options.connectTimeoutMs ?? 10_000,
      will: { topic: options.will.topic, payload: Buffer.from(options.will.payload), qos: 1, retain: true },
    });
    this.client = client;

    client.on('connect', () => {
      if (this.client !== client) return;
      this.connected = true;
      this.stableTimer = setTimeout(() => this.backoff.reset(), options.stableAfterMs ?? 60_000);
      client.subscribe(options.subscriptions, { qos: 1 }, (error) => {
        if (error) options.logger.warn('mqtt_subscribe_failed', { error });
      });
      options.onState('online', {});
      options.onConnect();
    });
    client.on('message', (topic, payload) => {
      try {
        options.onMessage(topic, payload);
      } catch (error) {
        options.logger.error('mqtt_message_handler_failed', { topic, error });
      }
    });
    client.on('error', (error) => {
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'number' && AUTH_REFUSED.has(code)) authCode = code;
      lastError = error.message;
      options.logger.debug('mqtt_error', { error });
    });
    client.on('close', () => {
      if (closed || this.client !== client) return;
      closed = true;
      const wasConnected = this.connected;
      this.connected = false;
      if (this.stableTimer) clearTimeout(this.stableTimer);
      client.end(true);
      if (this.stopped) return;
      const detail = lastError ?? (wasConnected ? 'the connection to the site server was lost' : 'could not connect to the site server');
      options.onState('offline', { error: authCode !== null ? `the site server refused this device's credentials (code ${authCode})` : detail });
      void this.scheduleRetry(authCode);
    });
  }

  private async scheduleRetry(authCode: number | null): Promise<void> {
    let retryNow = false;
    if (authCode !== null) {
      try {
        retryNow = await this.options.onAuthRefused(authCode);
      } catch {
        retryNow = false;
      }
    }
    if (this.stopped) return;
    const delay = retryNow ? Math.min(this.backoff.next(), 1_000) : this.backoff.next();
    this.options.logger.info('mqtt_reconnect_scheduled', { delayMs: delay, attempt: this.backoff.attempts });
    this.retryTimer = setTimeout(() => this.attempt(), delay);
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
    promise.then(() => { clearTimeout(timer); resolve(); }, () => { clearTimeout(timer); resolve(); });
  });
}
