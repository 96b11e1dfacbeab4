/**
 * One harness per broker mode, so the site-logic suite runs unchanged against the embedded broker (edges
 * authenticate with cloud-issued tokens) and against Debian's mosquitto (edges authenticate with the password
 * file; the ACL is the one shipped in src/mock/site-server/mosquitto/acl).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { MockSiteServer } from '../../../../src/mock/site-server/index.js';
import { edgeTopicPrefix, edgeTopics, type EdgeTopics } from '../../../../src/protocol/index.js';
import { ROOT } from '../../../helpers/process.js';
import { startMosquitto, type RunningMosquitto } from '../../../helpers/mosquitto.js';
import { connectEdge, startCloudSite, startSiteServer, type CloudSite } from './site.js';

export type Mode = 'embedded' | 'external';

export interface EdgeCreds {
  edgeId: string;
  token: string;
  topics: EdgeTopics;
}

export interface Harness {
  mode: Mode;
  site: CloudSite;
  server: MockSiteServer;
  edges: [EdgeCreds, EdgeCreds];
  mosquitto?: RunningMosquitto;
  connect(edge: EdgeCreds, options?: IClientOptions): Promise<MqttClient>;
}

export const SHIPPED_ACL = readFileSync(resolve(ROOT, 'src/mock/site-server/mosquitto/acl'), 'utf8');

export async function startHarness(mode: Mode): Promise<Harness> {
  const site = await startCloudSite();
  if (mode === 'embedded') {
    const server = await startSiteServer(site);
    const edges: [EdgeCreds, EdgeCreds] = [await site.pairEdge('edge-a'), await site.pairEdge('edge-b')];
    return { mode, site, server, edges, connect: (edge, options) => connectEdge(server.mqttUrl, edge, options) };
  }
  const password = () => randomBytes(18).toString('base64url');
  const creds = (edgeId: string): EdgeCreds => ({
    edgeId,
    token: password(),
    topics: edgeTopics(edgeTopicPrefix(site.siteId, edgeId)),
  });
  const edges: [EdgeCreds, EdgeCreds] = [creds('edge-a'), creds('edge-b')];
  const serverPassword = password();
  const mosquitto = await startMosquitto({
    users: { 'site-server': serverPassword, [edges[0].edgeId]: edges[0].token, [edges[1].edgeId]: edges[1].token },
    acl: SHIPPED_ACL,
    config: ['use_username_as_clientid true'],
  });
  const server = await startSiteServer(site, {
    broker: 'external',
    brokerUrl: mosquitto.url,
    brokerUsername: 'site-server',
    brokerPassword: serverPassword,
  });
  return {
    mode,
    site,
    server,
    edges,
    mosquitto,
    connect: (edge, options) => connectEdge(mosquitto.url, edge, options),
  };
}
