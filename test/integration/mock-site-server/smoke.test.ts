import { describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/wait.js';
import { api, connectEdge, envelope, startCloudSite, startSiteServer, statusOnline } from './helpers/site.js';

describe('smoke', () => {
  it('an edge paired in the cloud connects and its telemetry shows up', async () => {
    const site = await startCloudSite();
    const server = await startSiteServer(site);
    const edge = await site.pairEdge('orin-a');
    const client = await connectEdge(server.mqttUrl, edge);
    await client.publishAsync(edge.topics.status, statusOnline(), { qos: 1, retain: true });
    await client.publishAsync(edge.topics.telemetry, envelope(1), { qos: 1 });
    const edges = await waitFor(async () => {
      const r = await api(server, 'GET', '/edges');
      const e = r.body.data.find((x: any) => x.edgeId === 'orin-a');
      return e?.counters.messages === 1 && e.presence.state === 'online' ? e : undefined;
    });
    expect(edges.registration).toBe('active');
  });
});
