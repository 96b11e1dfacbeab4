/**
 * Test fixtures: a real mock cloud (in process) with a fresh site, a site server registered to it, and edges
 * paired through the cloud's real register-edge (so their tokens are the cloud's, signed with its key). Edges
 * here are plain mqtt.js clients that behave as CONTRACT §4 says; the real edge runtime has its own test.
 */
import { randomUUID } from 'node:crypto';
import { assertion, deviceKey } from '../../mock-cloud/fixtures.js';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll } from 'vitest';
import { createLogger, type Logger } from '../../../../src/common/log/log.js';
import {
  DEMO_ORG_ID,
  DEMO_PASSWORD,
  DEMO_USERS,
  MockCloudClient,
  startMockCloud,
  type MockCloudOptions,
} from '../../../../src/mock/cloud/index.js';
import {
  startMockSiteServer,
  type MockSiteServer,
  type SiteServerOptionsInput,
} from '../../../../src/mock/site-server/index.js';
import { edgeTopicPrefix, edgeTopics, type EdgeTopics } from '../../../../src/protocol/index.js';
import { testHardwareId } from '../../../helpers/tmp.js';
import { api } from '../../../helpers/http.js';

const closers: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
  closers.length = 0;
});

/** Quiet unless SITE_TEST_LOG=1: the server's JSON lines are noise in a passing run. */
export const testLogger: Logger = process.env.SITE_TEST_LOG
  ? createLogger({ level: 'debug' })
  : createLogger({ write: () => {} });

export interface CloudSite {
  cloudUrl: string;
  admin: MockCloudClient;
  orgId: string;
  siteId: string;
  stopCloud(): Promise<void>;
  /** Registers an edge with the cloud and returns what register-edge returned. */
  pairEdge(edgeId?: string): Promise<PairedEdge>;
  serverCode(): Promise<string>;
}

export interface PairedEdge {
  edgeId: string;
  token: string;
  topics: EdgeTopics;
  /** Where the cloud told this edge to connect. */
  mqttUrl: string;
  /** A fresh edge token from the cloud's token refresh, signed for with this edge's device key. */
  refresh(): Promise<string>;
}

export async function startCloudSite(
  options: { dbPath?: string; port?: number; releaseKeys?: MockCloudOptions['releaseKeys'] } = {},
): Promise<CloudSite> {
  const cloud = await startMockCloud({
    ...(options.dbPath ? { dbPath: options.dbPath } : {}),
    ...(options.port ? { port: options.port } : {}),
    ...(options.releaseKeys ? { releaseKeys: options.releaseKeys } : {}),
  });
  let stopped = false;
  const stopCloud = async () => {
    if (stopped) return;
    stopped = true;
    await cloud.close();
  };
  closers.push(stopCloud);
  const admin = new MockCloudClient(cloud.url);
  admin.setControlToken(cloud.controlToken);
  await admin.login(DEMO_USERS.admin, DEMO_PASSWORD);
  const slug = `s-${randomUUID().slice(0, 8)}`;
  const site = await admin.createSite(DEMO_ORG_ID, { name: slug, slug, timezone: 'Australia/Perth' });
  return {
    cloudUrl: cloud.url,
    admin,
    orgId: DEMO_ORG_ID,
    siteId: site.id,
    stopCloud,
    async serverCode() {
      return (await admin.createPairingCode(DEMO_ORG_ID, site.id, { purpose: 'server' })).code;
    },
    async pairEdge(edgeId = `edge-${randomUUID().slice(0, 8)}`) {
      const { code } = await admin.createPairingCode(DEMO_ORG_ID, site.id, { edgeId });
      const key = await deviceKey();
      const registered = await admin.registerEdge(
        DEMO_ORG_ID,
        site.id,
        {
          edgeId,
          hardwareId: testHardwareId(edgeId),
          version: '0.0.1',
          hostname: 'test-edge',
          publicKey: key.publicJwk,
        },
        { idempotencyKey: randomUUID(), pairingCode: code },
      );
      const audience = admin.edgeTokenUrl(DEMO_ORG_ID, site.id, edgeId);
      return {
        edgeId,
        token: registered.edgeToken,
        topics: edgeTopics(edgeTopicPrefix(site.id, edgeId)),
        mqttUrl: registered.config.siteServer.mqtt.url,
        refresh: async () =>
          (await admin.refreshEdgeToken(DEMO_ORG_ID, site.id, edgeId, await assertion(key, registered.id, audience)))
            .edgeToken,
      };
    },
  };
}

export async function startSiteServer(
  site: CloudSite,
  extra: Partial<SiteServerOptionsInput> = {},
  logger: Logger = testLogger,
): Promise<MockSiteServer> {
  const server = await startMockSiteServer(
    {
      cloud: site.cloudUrl,
      orgId: site.orgId,
      siteId: site.siteId,
      mqttPort: 0,
      httpPort: 0,
      hardwareId: testHardwareId('site-server'),
      refreshSeconds: 1,
      ...(extra.db && extra.db !== ':memory:' ? {} : { code: await site.serverCode() }),
      ...extra,
    },
    { logger },
  );
  closers.push(() => server.close());
  return server;
}

/** Connects an MQTT client; resolves with the client on CONNACK 0, rejects with the refusal otherwise. */
export function connect(url: string, options: IClientOptions): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5_000, ...options });
    closers.push(() => client.endAsync(true));
    client.once('connect', () => resolve(client));
    client.once('error', (error) => {
      client.end(true);
      reject(error);
    });
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
}

/** Connects as an edge would: clientId = username = edgeId, password = edge token, LWT on its status topic. */
export function connectEdge(
  url: string,
  edge: { edgeId: string; token: string; topics: EdgeTopics },
  options: IClientOptions = {},
): Promise<MqttClient> {
  return connect(url, {
    clientId: edge.edgeId,
    username: edge.edgeId,
    password: edge.token,
    will: {
      topic: edge.topics.status,
      payload: Buffer.from(JSON.stringify({ state: 'offline', reason: 'lost' })),
      qos: 1,
      retain: true,
    },
    ...options,
  });
}

/** The CONNACK return code of a refused connection (mqtt.js puts it on the error as `code`). */
export async function refusalCode(attempt: Promise<MqttClient>): Promise<number | string> {
  try {
    const client = await attempt;
    await client.endAsync(true);
    return 0;
  } catch (error) {
    return (error as { code?: number | string }).code ?? (error as Error).message;
  }
}

export { api };

export const statusOnline = () =>
  JSON.stringify({
    state: 'online',
    version: '0.0.1',
    bootId: randomUUID(),
    startedAt: new Date().toISOString(),
    ts: new Date().toISOString(),
  });
export const envelope = (seq: number) =>
  JSON.stringify({
    seq,
    ts: new Date().toISOString(),
    historical: false,
    records: [{ tag: 'pump.rpm', ts: new Date().toISOString(), value: seq }],
  });
