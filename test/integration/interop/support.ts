/**
 * An in-process mock cloud and in-process edges (the real runtime: pairing, session, token, status), captured
 * logs included, so interop and TLS tests can look at what a technician would see (`status` → `lastError`).
 */
import { readFileSync } from 'node:fs';
import {
  DEMO_ORG_ID,
  DEMO_PASSWORD,
  DEMO_USERS,
  MockCloudClient,
  startMockCloud,
} from '../../../src/mock/cloud/index.js';
import { createLogger, type Logger } from '../../../src/common/log/log.js';
import { createEdgeRuntime, type EdgeRuntime } from '../../../src/edge/runtime.js';
import type { EdgeSession } from '../../../src/edge/session/session.js';
import type { FetchLike } from '../../../src/edge/cloud-client/http.js';
import { tempDir, testHardwareId } from '../../helpers/tmp.js';

export { DEMO_ORG_ID };

export interface Cloud {
  url: string;
  admin: MockCloudClient;
  close(): Promise<void>;
}

export async function startCloud(tls?: { cert: string; key: string; ca: string }): Promise<Cloud> {
  const quiet = createLogger({ level: 'error', write: () => {} });
  const cloud = await startMockCloud({
    host: '127.0.0.1',
    port: 0,
    logger: quiet,
    ...(tls ? { tls: { cert: readFileSync(tls.cert, 'utf8'), key: readFileSync(tls.key, 'utf8') } } : {}),
  });
  const admin = new MockCloudClient(cloud.url, tls ? readFileSync(tls.ca, 'utf8') : undefined);
  await admin.login(DEMO_USERS.admin, DEMO_PASSWORD);
  return { url: cloud.url, admin, close: cloud.close };
}

/** A new site whose edges are told to use `mqttUrl` (and to trust `caPem` for it). */
export async function siteAt(cloud: Cloud, mqttUrl: string, caPem?: string): Promise<string> {
  const slug = `interop-${Math.random().toString(36).slice(2, 8)}`;
  const site = await cloud.admin.createSite(DEMO_ORG_ID, { name: slug, slug, timezone: 'Australia/Perth' });
  await cloud.admin.registerServer(DEMO_ORG_ID, site.id, {
    hardwareId: 'interop-site',
    version: '0.0.1',
    hostname: 'site-server',
    endpoints: { api: 'http://127.0.0.1:5000', mqtt: mqttUrl, ...(caPem ? { caCertificatePem: caPem } : {}) },
  });
  return site.id;
}

export interface TestEdge {
  edgeId: string;
  runtime: EdgeRuntime;
  session: EdgeSession | null;
  logs: string[];
  token(): string;
  lastError(): string | null;
  start(): EdgeSession;
  close(): Promise<void>;
}

/** Pairs an edge in-process (no connect check) and returns it ready to `start()`. */
export async function pairEdge(
  cloud: Cloud,
  siteId: string,
  edgeId: string,
  options: { fetch?: FetchLike; connectTimeoutMs?: number } = {},
): Promise<TestEdge> {
  const logs: string[] = [];
  const logger: Logger = createLogger({ level: 'debug', write: (line) => logs.push(line) });
  const runtime = await createEdgeRuntime({
    stateDir: tempDir('cst-interop-'),
    hardwareId: testHardwareId(edgeId),
    logger,
    reconnectPolicy: { baseMs: 200, capMs: 1_000, minMs: 100 },
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const { code } = await cloud.admin.createPairingCode(DEMO_ORG_ID, siteId, {});
  await runtime.pair({ cloudUrl: cloud.url, orgId: DEMO_ORG_ID, siteId, code, edgeId });
  const edge: TestEdge = {
    edgeId,
    runtime,
    session: null,
    logs,
    token: () => runtime.state.registration.get()!.edgeToken,
    lastError: () => runtime.state.status.read()?.snapshot.lastError ?? null,
    start() {
      edge.session = runtime.createSession();
      edge.session.start();
      return edge.session;
    },
    async close() {
      await edge.session?.stop();
      runtime.close();
    },
  };
  return edge;
}

/** The mosquitto ACL for a site (CONTRACT §4), as a pattern file: %u is the edge id (username = client id). */
export function siteAcl(siteId: string, observer: string): string {
  const p = `consystence/v1/sites/${siteId}/edges/%u`;
  // Patterns first: in mosquitto's file, `topic` lines belong to the `user` above them, patterns to everyone.
  return [
    ...['status', 'heartbeat', 'telemetry', 'events', 'config/reported', 'cmd/result'].map(
      (t) => `pattern write ${p}/${t}`,
    ),
    `pattern read ${p}/config`,
    `pattern read ${p}/cmd`,
    `pattern read consystence/v1/sites/${siteId}/server/status`,
    '',
    `user ${observer}`,
    'topic readwrite #',
    '',
  ].join('\n');
}
