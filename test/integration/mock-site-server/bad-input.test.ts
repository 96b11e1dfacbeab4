/**
 * Garbage in, clear refusal out, and everyone else keeps being served: raw malformed MQTT from a TCP socket,
 * packets announcing huge sizes, payloads over the configured maximum, bad control-API requests. A well-behaved
 * edge stays connected through all of it and its messages keep arriving.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockSiteServer } from '../../../src/mock/site-server/index.js';
import { waitFor } from '../../helpers/wait.js';
import {
  api,
  connectEdge,
  envelope,
  refusalCode,
  startCloudSite,
  startSiteServer,
  type CloudSite,
  type PairedEdge,
} from './helpers/site.js';

const MAX_PAYLOAD = 4096;

/** Sends bytes on a fresh socket and resolves when the server closes it (or rejects after 5 s). */
function sendRaw(url: string, bytes: Buffer): Promise<'closed'> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket: Socket = tcpConnect({ host: hostname, port: Number(port) }, () => socket.write(bytes));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('the server kept a garbage connection open for 5 s'));
    }, 5_000);
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve('closed');
    });
  });
}

describe('bad input (embedded broker)', () => {
  let site: CloudSite;
  let server: MockSiteServer;
  let good: PairedEdge;
  let goodClient: MqttClient;
  let seq = 0;

  /** The well-behaved edge publishes one more message and the server must count it. */
  async function goodEdgeStillServed(): Promise<void> {
    seq += 1;
    await goodClient.publishAsync(good.topics.telemetry, envelope(seq), { qos: 1 });
    await waitFor(
      async () => {
        const { body } = await api(server, 'GET', '/edges');
        return body.data.find((e: any) => e.edgeId === good.edgeId)?.lastSeq === seq;
      },
      { what: `the good edge's seq ${seq}` },
    );
    expect(goodClient.connected).toBe(true);
  }

  beforeAll(async () => {
    site = await startCloudSite();
    server = await startSiteServer(site, { maxPayloadBytes: MAX_PAYLOAD });
    good = await site.pairEdge('orin-good');
    goodClient = await connectEdge(server.mqttUrl, good);
  });
  afterAll(async () => server?.close());

  it('closes sockets that send malformed MQTT, and keeps serving', async () => {
    const garbage = [
      Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
      Buffer.from([0x10, 0x05, 0x00, 0x04, 0x4d, 0x51]), // truncated CONNECT, then nothing
      Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x58, 0x58, 0x58, 0x58, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00]), // protocol "XXXX"
      Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f]), // remaining length longer than 4 bytes
      Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]), // PUBLISH announcing ~256 MB before any CONNECT
      Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) & 0xff)),
    ];
    for (const bytes of garbage.filter((_, i) => i !== 1)) expect(await sendRaw(server.mqttUrl, bytes)).toBe('closed');
    // The truncated CONNECT is closed by the connect timeout, which is long; just check it does not block others.
    void sendRaw(server.mqttUrl, garbage[1]!).catch(() => {});
    await goodEdgeStillServed();
  });

  it('disconnects an edge that publishes over the payload limit, and keeps serving the others', async () => {
    const big = await site.pairEdge('orin-big');
    const client = await connectEdge(server.mqttUrl, big);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.publish(big.topics.telemetry, Buffer.alloc(MAX_PAYLOAD + 1, 0x41), { qos: 1 });
    await closed;
    // A packet announcing far more than the limit is cut before it is buffered.
    const again = await connectEdge(server.mqttUrl, big);
    const closedAgain = new Promise<void>((resolve) => again.once('close', () => resolve()));
    again.publish(big.topics.telemetry, Buffer.alloc(10 * 1024 * 1024, 0x41), { qos: 0 });
    await closedAgain;
    again.end(true);
    await goodEdgeStillServed();
  });

  it('refuses bad tokens without disturbing connected edges', async () => {
    for (let i = 0; i < 5; i++) {
      expect(
        await refusalCode(
          connectEdge(
            server.mqttUrl,
            { ...good, edgeId: good.edgeId, token: `garbage-${i}` },
            { clientId: `intruder-${i}`, username: `intruder-${i}` },
          ),
        ),
      ).toBe(4);
    }
    await goodEdgeStillServed();
  });

  it('answers bad control-API requests with 400/404/413 in the contract error shape', async () => {
    const url = server;
    const cases: Array<[string, string, unknown, number]> = [
      ['POST', `/edges/${good.edgeId}/config`, '{not json', 400],
      ['POST', `/edges/${good.edgeId}/config`, { config: { heartbeatSeconds: 1 } }, 400],
      ['POST', `/edges/${good.edgeId}/config`, { config: {}, surprise: true }, 400],
      ['POST', `/edges/${good.edgeId}/config`, { config: { heartbeatSeconds: 10 }, version: -1 }, 400],
      ['POST', `/edges/${good.edgeId}/commands`, { name: '' }, 400],
      ['POST', `/edges/${good.edgeId}/commands`, { name: 'ping', timeoutMs: 'soon' }, 400],
      ['POST', `/edges/${good.edgeId}/commands`, [1, 2, 3], 400],
      ['POST', '/edges/NOT_AN_ID/commands', { name: 'ping' }, 400],
      ['POST', '/edges/..%2F..%2Fx/commands', { name: 'ping' }, 400],
      ['GET', `/edges/${good.edgeId}/messages?limit=-5`, undefined, 400],
      ['GET', `/edges/${good.edgeId}/messages?channel=secrets`, undefined, 400],
      ['POST', '/faults/refuse-connects', { count: 1, returnCode: 0 }, 400],
      ['POST', '/faults/listener', { action: 'explode' }, 400],
      ['POST', '/faults/pause', { ms: 0 }, 400],
      ['POST', `/edges/${good.edgeId}/commands`, { name: 'ping', args: { blob: 'x'.repeat(70_000) } }, 413],
      ['GET', '/nothing-here', undefined, 404],
    ];
    for (const [method, path, body, status] of cases) {
      const answer = await api(url, method, path, body);
      expect([method, path, answer.status]).toEqual([method, path, status]);
      expect(typeof answer.body.error?.code).toBe('string');
    }
    expect((await api(url, 'GET', '/health')).status).toBe(200);
    await goodEdgeStillServed();
  });
});
