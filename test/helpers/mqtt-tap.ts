/**
 * A TCP proxy in front of a broker that reads the MQTT 5 packets going through it, for checks a broker's log
 * cannot show: how many QoS 1 PUBLISHes the client has unacknowledged at once (mosquitto acks each at once, so its
 * log never shows a window), the topic aliases a client uses, and its PINGREQs. Answers to the client can be
 * delayed (`ackDelayMs`) so the client's in-flight window actually fills, as over a slow site link.
 *
 * Plain TCP, one broker, MQTT 5 framing only; closed when the test file ends.
 */
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll } from 'vitest';

export interface TappedPublish {
  at: number;
  topic: string;
  alias: number | null;
  qos: number;
}

export interface MqttTap {
  url: string;
  /** Client connections accepted so far (a drop and reconnect shows as 2). */
  connections: number;
  publishes: TappedPublish[];
  pingreqs: number[];
  /** QoS 1 PUBLISHes sent by the client and not yet acknowledged to it; and the most ever at once. */
  inflight: number;
  peakInflight: number;
  close(): Promise<void>;
}

const open: Server[] = [];
afterAll(() => {
  for (const server of open.splice(0)) server.close();
});

/** Splits a byte stream into whole MQTT packets (fixed header + remaining length), keeping the rest for later. */
function packetReader(onPacket: (type: number, flags: number, body: Buffer) => void): (chunk: Buffer) => void {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      let length = 0;
      let multiplier = 1;
      let i = 1;
      for (; i < Math.min(pending.length, 5); i++) {
        length += (pending[i]! & 0x7f) * multiplier;
        multiplier *= 128;
        if ((pending[i]! & 0x80) === 0) break;
      }
      if (i >= pending.length || pending.length < i + 1 + length) return;
      onPacket(pending[0]! >> 4, pending[0]! & 0x0f, pending.subarray(i + 1, i + 1 + length));
      pending = pending.subarray(i + 1 + length);
    }
  };
}

function readVarint(buf: Buffer, at: number): [number, number] {
  let value = 0;
  let multiplier = 1;
  for (let i = at; i < buf.length && i < at + 4; i++) {
    value += (buf[i]! & 0x7f) * multiplier;
    multiplier *= 128;
    if ((buf[i]! & 0x80) === 0) return [value, i + 1];
  }
  throw new Error('malformed variable byte integer');
}

/** The topic and Topic Alias (property 0x23) of an MQTT 5 PUBLISH; other properties are skipped by their size. */
function parsePublish(flags: number, body: Buffer): TappedPublish {
  const qos = (flags >> 1) & 3;
  const topicLength = body.readUInt16BE(0);
  const topic = body.subarray(2, 2 + topicLength).toString('utf8');
  let at = 2 + topicLength + (qos > 0 ? 2 : 0);
  const [propsLength, start] = readVarint(body, at);
  at = start;
  let alias: number | null = null;
  const u16 = (p: number) => 2 + body.readUInt16BE(p);
  while (at < start + propsLength) {
    const id = body[at++]!;
    if (id === 0x23) alias = body.readUInt16BE(at);
    const size =
      id === 0x01
        ? 1
        : id === 0x02
          ? 4
          : id === 0x23
            ? 2
            : id === 0x0b
              ? readVarint(body, at)[1] - at
              : id === 0x03 || id === 0x08 || id === 0x09
                ? u16(at)
                : id === 0x26
                  ? u16(at) + u16(at + u16(at))
                  : -1;
    if (size < 0) break; // not a PUBLISH property: stop rather than misread
    at += size;
  }
  return { at: Date.now(), topic, alias, qos };
}

export async function startMqttTap(brokerPort: number, options: { ackDelayMs?: number } = {}): Promise<MqttTap> {
  const delay = options.ackDelayMs ?? 0;
  const server = createServer();
  open.push(server);
  const tap: MqttTap = {
    url: '',
    connections: 0,
    publishes: [],
    pingreqs: [],
    inflight: 0,
    peakInflight: 0,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  server.on('connection', (client: Socket) => {
    tap.connections++;
    const broker = createConnection({ host: '127.0.0.1', port: brokerPort });
    const end = () => {
      client.destroy();
      broker.destroy();
    };
    client.on('error', end).on('close', end);
    broker.on('error', end).on('close', end);
    const fromClient = packetReader((type, flags, body) => {
      if (type === 12) tap.pingreqs.push(Date.now());
      if (type !== 3) return;
      const publish = parsePublish(flags, body);
      tap.publishes.push(publish);
      if (publish.qos === 1) tap.peakInflight = Math.max(tap.peakInflight, ++tap.inflight);
    });
    // Counted when the client is handed the PUBACK, not when the broker sent it: that is the client's view.
    const toClient = packetReader((type) => {
      if (type === 4) tap.inflight--;
    });
    client.on('data', (chunk: Buffer) => {
      fromClient(chunk);
      broker.write(chunk);
    });
    broker.on('data', (chunk: Buffer) => {
      // Same delay for every chunk: timers of equal delay fire in order, so the stream stays in order.
      setTimeout(() => {
        if (!client.destroyed) {
          toClient(chunk);
          client.write(chunk);
        }
      }, delay);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  tap.url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return tap;
}
