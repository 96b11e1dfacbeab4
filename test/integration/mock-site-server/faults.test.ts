/**
 * The control API's faults on the embedded broker: planned CONNACK refusals, dropped connections (the LWT
 * fires), a paused broker (PUBACKs held), a stopped and restarted listener on the same port, and reset.
 */
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
  statusOnline,
  type CloudSite,
  type PairedEdge,
} from './helpers/site.js';

describe('faults (embedded broker)', () => {
  let site: CloudSite;
  let server: MockSiteServer;
  let edge: PairedEdge;
  beforeAll(async () => {
    site = await startCloudSite();
    server = await startSiteServer(site);
    edge = await site.pairEdge('orin-faulty');
  });
  afterAll(async () => server?.close());

  it('refuses the next N CONNECTs with the chosen return code, then admits again', async () => {
    const armed = await api(server, 'POST', '/faults/refuse-connects', { count: 2, returnCode: 3 });
    expect(armed.body.refuseConnects).toEqual({ remaining: 2, returnCode: 3 });
    expect(await refusalCode(connectEdge(server.mqttUrl, edge))).toBe(3);
    expect(await refusalCode(connectEdge(server.mqttUrl, edge))).toBe(3);
    expect(await refusalCode(connectEdge(server.mqttUrl, edge))).toBe(0);
  });

  it('drops one edge (its LWT says lost) and 404s an edge that is not connected', async () => {
    const client = await connectEdge(server.mqttUrl, edge);
    await client.publishAsync(edge.topics.status, statusOnline(), { qos: 1, retain: true });
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    expect((await api(server, 'POST', '/faults/drop', { edgeId: edge.edgeId })).body).toEqual({
      dropped: [edge.edgeId],
    });
    await closed;
    await waitFor(
      async () => {
        const { body } = await api(server, 'GET', `/edges/${edge.edgeId}`);
        return body.presence.state === 'offline' && body.presence.reason === 'lost';
      },
      { what: 'LWT after drop' },
    );
    expect((await api(server, 'POST', '/faults/drop', { edgeId: edge.edgeId })).status).toBe(404);
    client.end(true);
  });

  it('pauses delivery: a QoS 1 publish is not acknowledged until the pause ends', async () => {
    const client = await connectEdge(server.mqttUrl, edge);
    await api(server, 'POST', '/faults/pause', { ms: 1_500 });
    let acked = false;
    const publish = client.publishAsync(edge.topics.telemetry, envelope(1), { qos: 1 }).then(() => (acked = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(acked).toBe(false);
    const { body } = await api(server, 'GET', `/edges/${edge.edgeId}`);
    expect(body.lastSeq).toBe(0);
    await publish;
    await waitFor(async () => (await api(server, 'GET', `/edges/${edge.edgeId}`)).body.lastSeq === 1, {
      what: 'delivery after the pause',
    });
    await client.endAsync();
  });

  it('stops the listener (closing live connections) and starts it again on the same port', async () => {
    const client = await connectEdge(server.mqttUrl, edge);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    const stopped = await api(server, 'POST', '/faults/listener', { action: 'stop' });
    expect(stopped.body.listener).toBe('stopped');
    await closed;
    client.end(true);
    expect(String(await refusalCode(connectEdge(server.mqttUrl, edge)))).toMatch(/ECONNREFUSED|closed/);
    expect((await api(server, 'GET', '/health')).body.listener).toBe('stopped');
    // The server keeps working internally while the listener is down.
    expect((await api(server, 'GET', '/health')).body.siteClientConnected).toBe(true);
    await api(server, 'POST', '/faults/listener', { action: 'start' });
    expect(await refusalCode(connectEdge(server.mqttUrl, edge))).toBe(0);
  });

  it('DELETE /faults resets everything, including a stopped listener', async () => {
    await api(server, 'POST', '/faults/refuse-connects', { count: 5, returnCode: 5 });
    await api(server, 'POST', '/faults/listener', { action: 'stop' });
    const reset = await api(server, 'DELETE', '/faults');
    expect(reset.body).toEqual({ refuseConnects: null, pausedUntil: null, listener: 'running' });
    expect(await refusalCode(connectEdge(server.mqttUrl, edge))).toBe(0);
  });
});
