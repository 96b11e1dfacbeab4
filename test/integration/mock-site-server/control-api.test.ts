/**
 * The control API cannot be used without its token, listens on loopback whatever `--host` MQTT uses, caps a
 * body while it streams, and cannot wedge the site server: an oversized raw publish is refused before it reaches
 * the site logic's own client (which the broker's packet guard would cut), every PUBACK an edge gets means the
 * site has recorded the message, and one SIGTERM stops the CLI in any state.
 */
import { connect as tcpConnect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import type { MockSiteServer } from '../../../src/mock/site-server/index.js';
import { startEntry } from '../../helpers/process.js';
import { testHardwareId } from '../../helpers/tmp.js';
import {
  api,
  connectEdge,
  envelope,
  startCloudSite,
  startSiteServer,
  type CloudSite,
  type PairedEdge,
} from './helpers/site.js';

/** Sends a chunked body that never ends, until the server answers; resolves with the status line. */
function endlessChunkedPost(httpUrl: string, token: string, path: string): Promise<string> {
  const { hostname, port } = new URL(httpUrl);
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(Number(port), hostname);
    let answer = '';
    const chunk = `${(64 * 1024).toString(16)}\r\n${'x'.repeat(64 * 1024)}\r\n`;
    const pump = setInterval(() => socket.writable && socket.write(chunk), 5);
    const timer = setTimeout(() => finish(new Error('no answer within 20 s')), 20_000);
    const finish = (error?: Error) => {
      clearInterval(pump);
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(answer.split('\r\n')[0]!);
    };
    socket.on('error', () => finish(answer ? undefined : new Error('connection failed before an answer')));
    socket.on('data', (data) => {
      answer += data.toString('latin1');
      if (answer.includes('\r\n')) finish();
    });
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${token}\r\n` +
        'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
  });
}

describe('site server control API', () => {
  let site: CloudSite;
  let server: MockSiteServer;
  let edge: PairedEdge;
  beforeAll(async () => {
    site = await startCloudSite();
    server = await startSiteServer(site);
    edge = await site.pairEdge();
  });

  it('refuses every route but /health without the bearer token, and a wrong token alike', async () => {
    expect(server.controlTokenGenerated).toBe(true);
    for (const [method, path] of [
      ['GET', '/edges'],
      ['POST', `/edges/${edge.edgeId}/commands`],
      ['POST', '/faults/listener'],
      ['DELETE', '/faults'],
      ['GET', '/updates'],
      ['POST', '/faults/update-artifact'],
    ] as const) {
      const bare = await api(server.httpUrl, method, path, method === 'GET' ? undefined : { action: 'stop' });
      expect([path, bare.status, bare.body.error?.code]).toEqual([path, 401, 'UNAUTHENTICATED']);
      const wrong = await api({ httpUrl: server.httpUrl, controlToken: `${server.controlToken}x` }, method, path);
      expect([path, wrong.status]).toEqual([path, 401]);
    }
    expect((await api(server, 'GET', '/faults')).body.listener).toBe('running');
    expect((await api(server.httpUrl, 'GET', '/health')).status).toBe(200);
    expect((await api(server, 'GET', '/edges')).status).toBe(200);
  });

  it('caps a chunked body that never ends at 64 KiB and keeps serving', async () => {
    const status = await endlessChunkedPost(server.httpUrl, server.controlToken, `/edges/${edge.edgeId}/commands`);
    expect(status).toMatch(/^HTTP\/1\.1 413/);
    expect((await api(server, 'GET', '/health')).status).toBe(200);
  });

  it('refuses a raw publish larger than the broker accepts with 413; every PUBACKed seq is recorded', async () => {
    const client = await connectEdge(server.mqttUrl, edge);
    // The README's own example once cut the site logic's client, over and over, and never answered.
    const raw = await api(server, 'POST', `/edges/${edge.edgeId}/raw`, {
      channel: 'config',
      payload: '{}',
      padToBytes: 300_000,
    });
    expect(raw.status).toBe(413);
    expect(raw.body.error.message).toMatch(/--max-payload-bytes \(262144\)/);
    for (let seq = 1; seq <= 20; seq++) {
      await client.publishAsync(edge.topics.telemetry, envelope(seq), { qos: 1 });
      // The PUBACK has arrived: the site must already have this seq, not merely be about to.
      const summary = (await api(server, 'GET', `/edges/${edge.edgeId}`)).body;
      expect([seq, summary.lastSeq]).toEqual([seq, seq]);
    }
    const health = (await api(server, 'GET', '/health')).body;
    expect(health.siteClientConnected).toBe(true);
    const fits = await api(server, 'POST', `/edges/${edge.edgeId}/raw`, {
      channel: 'cmd',
      payload: '{}',
      padToBytes: 200_000,
    });
    expect(fits.status).toBe(202);
    await client.endAsync();
  });
});

describe('control API address', () => {
  let site: CloudSite;
  beforeAll(async () => {
    site = await startCloudSite();
  });

  it('stays on 127.0.0.1 when MQTT listens on every address', async () => {
    const server = await startSiteServer(site, { host: '0.0.0.0', publicHost: 'localhost' });
    expect(server.httpUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await api(server, 'GET', '/edges')).status).toBe(200);
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal);
    if (!external) {
      console.log('skipped the external-address check: this machine has no non-loopback IPv4 address');
      return;
    }
    const port = Number(new URL(server.httpUrl).port);
    const reached = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect(port, external.address);
      socket.once('connect', () => resolve(true));
      socket.once('error', () => resolve(false));
      setTimeout(() => resolve(false), 5_000);
    });
    expect(reached).toBe(false);
  });
});

describe('consystence-mock-site CLI shutdown', () => {
  let site: CloudSite;
  beforeAll(async () => {
    site = await startCloudSite();
  });

  it('prints a generated controlToken in its ready line and stops on one SIGTERM with requests in flight', async () => {
    const server = startEntry(
      'node',
      'src/mock/site-server/main.ts',
      [
        '--cloud',
        site.cloudUrl,
        '--org',
        site.orgId,
        '--site',
        site.siteId,
        '--mqtt-port',
        '0',
        '--http-port',
        '0',
        '--hardware-id',
        testHardwareId('cli-stop'),
      ],
      { env: { CONSYSTENCE_SITE_CODE: await site.serverCode() } },
    );
    const ready = await server.waitForLine((l) => l.event === 'listening', 30_000);
    const control = { httpUrl: String(ready.httpUrl), controlToken: String(ready.controlToken) };
    expect(control.controlToken).toMatch(/^[\w-]{40,}$/);
    expect(server.stderr.join('\n')).not.toContain(control.controlToken);
    const edge = await site.pairEdge();
    const client = await connectEdge(String(ready.mqttUrl), edge);
    // Held states: deliveries paused with a publish waiting, a command waiting for its result, a body never ending.
    await api(control, 'POST', '/faults/pause', { ms: 600_000 });
    const pending = client.publishAsync(edge.topics.telemetry, envelope(1), { qos: 1 }).catch(() => undefined);
    const command = api(control, 'POST', `/edges/${edge.edgeId}/commands`, { name: 'ping', timeoutMs: 300_000 }).catch(
      () => undefined,
    );
    const endless = endlessChunkedPost(control.httpUrl, control.controlToken, '/faults/pause').catch(() => undefined);
    const exit = await Promise.race([
      server.kill('SIGTERM'),
      new Promise<{ code: 'none' }>((resolve) => setTimeout(() => resolve({ code: 'none' }), 30_000)),
    ]);
    expect(exit.code).toBe(0);
    client.end(true);
    await Promise.all([pending, command, endless]);
  });
});
