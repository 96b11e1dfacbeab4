/** A test MQTT client that records everything under an edge's prefix (retained messages included). */
import mqtt, { type MqttClient } from 'mqtt';
import { waitFor } from '../../helpers/wait.js';
import { OBSERVER } from './token-broker.js';

export interface Seen {
  topic: string;
  channel: string;
  json: Record<string, unknown> | null;
  retain: boolean;
  at: number;
}

export class Observer {
  readonly seen: Seen[] = [];
  private constructor(
    private readonly client: MqttClient,
    private readonly prefix: string,
  ) {}

  static async connect(port: number, prefix: string): Promise<Observer> {
    const client = mqtt.connect({
      host: '127.0.0.1',
      port,
      protocol: 'mqtt',
      clientId: `observer-${process.pid}-${Math.random().toString(16).slice(2)}`,
      username: OBSERVER.username,
      password: OBSERVER.password,
      reconnectPeriod: 500,
    });
    const observer = new Observer(client, prefix);
    client.on('message', (topic, payload, packet) => {
      let json: Record<string, unknown> | null = null;
      try {
        json = JSON.parse(payload.toString('utf8'));
      } catch {
        /* kept as null */
      }
      observer.seen.push({
        topic,
        channel: topic.slice(prefix.length + 1),
        json,
        retain: packet.retain,
        at: Date.now(),
      });
    });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () =>
        client.subscribe(`${prefix}/#`, { qos: 1 }, (error) => (error ? reject(error) : resolve())),
      );
      client.once('error', reject);
    });
    return observer;
  }

  mark(): number {
    return this.seen.length;
  }

  async waitFor(
    channel: string,
    match: (json: Record<string, unknown>) => boolean,
    options: { since?: number; timeoutMs?: number } = {},
  ): Promise<Seen> {
    return waitFor(
      () => this.seen.slice(options.since ?? 0).find((s) => s.channel === channel && s.json !== null && match(s.json)),
      { timeoutMs: options.timeoutMs ?? 15_000, what: `a message on ${channel}` },
    );
  }

  publish(
    channel: string,
    payload: string | Record<string, unknown>,
    options: { retain?: boolean } = {},
  ): Promise<void> {
    return new Promise((resolve, reject) =>
      this.client.publish(
        `${this.prefix}/${channel}`,
        typeof payload === 'string' ? payload : JSON.stringify(payload),
        { qos: 1, retain: options.retain ?? false },
        (error) => (error ? reject(error) : resolve()),
      ),
    );
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.client.end(true, {}, () => resolve()));
  }
}
