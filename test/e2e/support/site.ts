/**
 * The mock site server for e2e tests: started in the test process against a mock cloud process, registered
 * with a pairing code (so the cloud points the site's edges at it), and observed only through its control API,
 * as a rig would. Closed when the test file ends.
 */
import { afterAll } from 'vitest';
import { createLogger } from '../../../src/common/log/log.js';
import {
  startMockSiteServer,
  type MockSiteServer,
  type SiteServerOptionsInput,
} from '../../../src/mock/site-server/index.js';
import { testHardwareId } from '../../helpers/tmp.js';
import { api as controlApi } from '../../helpers/http.js';
import { waitFor } from '../../helpers/wait.js';
import { DEMO_ORG_ID, type CloudProcess } from './cloud.js';

const open: MockSiteServer[] = [];
afterAll(async () => {
  for (const server of open.splice(0)) await server.close().catch(() => {});
});

const quiet = process.env.SITE_TEST_LOG ? createLogger({ level: 'debug' }) : createLogger({ write: () => {} });

export interface Site {
  server: MockSiteServer;
  api<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** The control API's summary of one edge (presence, counters, last heartbeat), or null before it is seen. */
  edge(edgeId: string): Promise<EdgeSummary | null>;
  /** Every telemetry/events envelope received from the edge (duplicates included), oldest first. */
  envelopes(edgeId: string): Promise<
    Array<{
      channel: string;
      seq: number;
      historical: boolean;
      records: Array<{ tag: string; value?: unknown }>;
      verdict?: string;
    }>
  >;
  waitForPresence(
    edgeId: string,
    match: (p: EdgeSummary['presence']) => boolean,
    timeoutMs?: number,
  ): Promise<EdgeSummary>;
}

export interface EdgeSummary {
  edgeId: string;
  connected: boolean | null;
  presence: { state: string; reason: string | null; since: string | null; bootId?: string };
  counters: { received: number; messages: number; duplicates: number; gaps: number; missing: number; invalid: number };
  lastSeq: number;
  lastHeartbeat: { queue: { depth: number; bytes: number; dropped: number }; clockSkewMs?: number } | null;
}

export async function startSite(
  cloud: CloudProcess,
  siteId: string,
  extra: Partial<SiteServerOptionsInput> = {},
): Promise<Site> {
  const { code } = await cloud.admin.createPairingCode(DEMO_ORG_ID, siteId, { purpose: 'server' });
  const server = await startMockSiteServer(
    {
      cloud: cloud.url,
      orgId: DEMO_ORG_ID,
      siteId,
      code,
      mqttPort: 0,
      httpPort: 0,
      hardwareId: testHardwareId('site-server'),
      refreshSeconds: 1,
      messageBufferSize: 100_000,
      ...extra,
    },
    { logger: quiet },
  );
  open.push(server);
  const api = (method: string, path: string, body?: unknown) => controlApi(server, method, path, body);
  const edge = async (edgeId: string) => {
    const answer = await api('GET', `/edges/${edgeId}`);
    return answer.status === 200 ? (answer.body as EdgeSummary) : null;
  };
  return {
    server,
    api,
    edge,
    async envelopes(edgeId) {
      const answer = await api('GET', `/edges/${edgeId}/messages?limit=10000`);
      return (answer.body.data as Array<{ channel: string; payload: any; verdict?: string }>)
        .filter((m) => (m.channel === 'telemetry' || m.channel === 'events') && m.payload)
        .map((m) => ({
          channel: m.channel,
          seq: m.payload.seq,
          historical: m.payload.historical,
          records: m.payload.records,
          ...(m.verdict ? { verdict: m.verdict } : {}),
        }));
    },
    async waitForPresence(edgeId, match, timeoutMs = 30_000) {
      return waitFor(
        async () => {
          const summary = await edge(edgeId);
          return summary && match(summary.presence) ? summary : null;
        },
        { timeoutMs, intervalMs: 100, what: `${edgeId}'s presence at the site server` },
      );
    },
  };
}
