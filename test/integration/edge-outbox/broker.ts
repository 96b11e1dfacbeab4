/** An in-process aedes broker on 127.0.0.1, port 0, and a QoS 1 subscriber that records every envelope it gets. */
import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';

export interface TestBroker {
  port: number;
  close(): Promise<void>;
}

export async function startBroker(): Promise<TestBroker> {
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface Received {
  topic: string;
  seq: number;
  historical: boolean;
  records: unknown[];
}

export async function subscribe(port: number, filter: string): Promise<{ client: MqttClient; received: Received[] }> {
  const client = mqtt.connect({ host: '127.0.0.1', port, protocol: 'mqtt', clean: true, reconnectPeriod: 0 });
  const received: Received[] = [];
  client.on('message', (topic, payload) => {
    const body = JSON.parse(payload.toString()) as Omit<Received, 'topic'>;
    received.push({ topic, seq: body.seq, historical: body.historical, records: body.records });
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  await client.subscribeAsync(filter, { qos: 1 });
  return { client, received };
}
