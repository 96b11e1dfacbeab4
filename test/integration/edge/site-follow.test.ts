/**
 * Edges follow their site (issue 17), with every part real: an in-process mock cloud, mock site servers on
 * loopback (mqtt:// and mqtts:// with certificates from scripts/gen-certs.ts) and the edge runtime's own session.
 *
 * - a second site server takes over: the edge moves to it by itself, without re-pairing;
 * - a CA rotation: old and new CA overlap, the server switches certificate, the edge keeps connecting, the old CA
 *   is withdrawn;
 * - a signed new endpoint that never works: the edge goes back to the one that works;
 * - the cloud unreachable while the site server restarts: the edge keeps its working endpoint.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateCerts } from '../../../scripts/gen-certs.js';
import { createLogger } from '../../../src/common/log/log.js';
import { createEdgeRuntime, type EdgeRuntime } from '../../../src/edge/runtime.js';
import type { EdgeSession } from '../../../src/edge/session/session.js';
import { siteEndpointReport } from '../../../src/edge/status/site-endpoint.js';
import { MockCloudClient } from '../../../src/mock/cloud/index.js';
import type { MockSiteServer } from '../../../src/mock/site-server/index.js';
import { openDatabase } from '../../../src/storage/index.js';
import { siteServerMigrations } from '../../../src/mock/site-server/migrations/index.js';
import { freePort } from '../../helpers/mosquitto.js';
import { tempDir, testHardwareId } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { startCloudSite, startSiteServer, type CloudSite } from '../mock-site-server/helpers/site.js';

interface Edge {
  runtime: EdgeRuntime;
  session: EdgeSession;
  logs: string[];
}
const edges: Edge[] = [];
afterEach(async () => {
  for (const edge of edges.splice(0)) {
    await edge.session.stop().catch(() => {});
    edge.runtime.close();
  }
});

/** A paired edge running its session, asking the cloud after 1 s without its site server. */
async function runningEdge(site: CloudSite, edgeId: string): Promise<Edge> {
  const logs: string[] = [];
  const runtime = await createEdgeRuntime({
    stateDir: tempDir('cst-follow-'),
    hardwareId: testHardwareId(edgeId),
    logger: createLogger({ level: 'debug', write: (line) => logs.push(line) }),
    reconnectPolicy: { baseMs: 200, capMs: 1_000, minMs: 100 },
    siteCheckAfterMs: 1_000,
  });
  const { code } = await site.admin.createPairingCode(site.orgId, site.siteId, { edgeId });
  await runtime.pair({ cloudUrl: site.cloudUrl, orgId: site.orgId, siteId: site.siteId, code, edgeId });
  const session = runtime.createSession();
  session.start();
  const edge = { runtime, session, logs };
  edges.push(edge);
  return edge;
}

const onlineAt = (edge: Edge, mqttUrl: string, timeoutMs = 30_000) =>
  waitFor(() => edge.session.isConnected && siteEndpointReport(edge.runtime.state)?.mqttUrl === mqttUrl, {
    timeoutMs,
    what: `online at ${mqttUrl}`,
  });

/** The site server's own token, read from its --db, to move its registration the way the server itself does. */
async function siteTokenIn(dbPath: string): Promise<string> {
  const { db } = await openDatabase({ path: dbPath, migrations: siteServerMigrations });
  try {
    return db.prepare<{ site_token: string }>('SELECT site_token FROM registration WHERE id = 1').get()!.site_token;
  } finally {
    db.close();
  }
}

describe('a second site server takes over', () => {
  it('the edge moves to it without re-pairing, keeps the old one as fallback, and says so in status', async () => {
    const site = await startCloudSite();
    const first = await startSiteServer(site, { hardwareId: testHardwareId('first') });
    const edge = await runningEdge(site, 'orin-follow-1');
    await onlineAt(edge, first.mqttUrl);

    const second = await startSiteServer(site, { hardwareId: testHardwareId('second') });
    expect(second.mqttUrl).not.toBe(first.mqttUrl);
    await onlineAt(edge, second.mqttUrl);

    const report = edge.runtime.status();
    expect(report.siteEndpoint).toMatchObject({ mqttUrl: second.mqttUrl, trial: false, fallbackUrl: first.mqttUrl });
    expect(report.brokerUrl).toBe(second.mqttUrl);
    expect(edge.logs.join('\n')).toMatch(/site_endpoint_switched/);
    // The pairing was not repeated: the same edge uuid, the token refreshed with the device key.
    expect(edge.runtime.state.registration.get()!.pairedAt).toBe(report.pairedAt);
  });
});

describe('a signed endpoint that never works', () => {
  it('is tried, then the edge goes back to the one that works; with the cloud down it keeps that one', async () => {
    const site = await startCloudSite();
    const db = join(tempDir('cst-follow-db-'), 'site.db');
    const hardwareId = testHardwareId('stays');
    const mqttPort = await freePort();
    let server: MockSiteServer = await startSiteServer(site, {
      db,
      hardwareId,
      mqttPort,
      code: await site.serverCode(),
    });
    const edge = await runningEdge(site, 'orin-follow-2');
    await onlineAt(edge, server.mqttUrl);

    // The registration is moved to a port where nothing listens (as a mistyped --public-host would).
    const dead = `mqtt://127.0.0.1:${await freePort()}`;
    await new MockCloudClient(site.cloudUrl).registerServer(
      site.orgId,
      site.siteId,
      { hardwareId, version: '1.0.0', hostname: 'site-server', endpoints: { api: server.httpUrl, mqtt: dead } },
      { pairingCode: await siteTokenIn(db) },
    );
    await edge.session.tokens.refresh('test');
    await waitFor(() => edge.logs.some((l) => l.includes('site_endpoint_trial_failed')), {
      timeoutMs: 30_000,
      what: 'the trial to fail',
    });
    await onlineAt(edge, server.mqttUrl);
    expect(siteEndpointReport(edge.runtime.state)).toMatchObject({ candidateUrl: dead, fallbackUrl: null });
    expect(edge.runtime.state.registration.get()!.config.siteServer.mqtt.url).toBe(server.mqttUrl);

    // The cloud goes away and the site server restarts: the edge asks, gets no answer, and stays where it worked.
    await site.stopCloud();
    const url = server.mqttUrl;
    await server.close();
    await waitFor(() => edge.logs.some((l) => l.includes('site_server_unreachable_asking_cloud')), {
      what: 'the edge to ask the cloud',
    });
    server = await startSiteServer(site, { db, hardwareId, mqttPort });
    await onlineAt(edge, url);
    expect(edge.runtime.state.registration.get()!.config.siteServer.mqtt.url).toBe(url);
    await server.close();
  });
});

describe('CA rotation with overlap', () => {
  it('old and new CA are trusted together, the server switches certificate, the old CA is withdrawn', async () => {
    const oldCerts = generateCerts(tempDir('cst-ca-old-'));
    const newCerts = generateCerts(tempDir('cst-ca-new-'));
    const bundle = join(tempDir('cst-ca-bundle-'), 'bundle.pem');
    writeFileSync(bundle, readFileSync(oldCerts.ca.cert, 'utf8') + readFileSync(newCerts.ca.cert, 'utf8'));

    const site = await startCloudSite();
    const db = join(tempDir('cst-ca-db-'), 'site.db');
    const hardwareId = testHardwareId('rotating');
    const mqttPort = await freePort();
    const serve = async (cert: { cert: string; key: string }, ca: string, code?: string) =>
      startSiteServer(site, {
        db,
        hardwareId,
        mqttPort,
        tlsCert: cert.cert,
        tlsKey: cert.key,
        tlsCa: ca,
        ...(code ? { code } : {}),
      });

    let server = await serve(oldCerts.server, oldCerts.ca.cert, await site.serverCode());
    const edge = await runningEdge(site, 'orin-follow-ca');
    await onlineAt(edge, server.mqttUrl);
    const [oldFingerprint] = siteEndpointReport(edge.runtime.state)!.caFingerprints;
    expect(oldFingerprint).toMatch(/^[0-9a-f]{16}$/);

    // 1. Overlap: the server registers old + new CA; the edge learns it at its next refresh and trusts both.
    await server.close();
    server = await serve(oldCerts.server, bundle);
    await edge.session.tokens.refresh('test');
    await waitFor(
      () => siteEndpointReport(edge.runtime.state)!.caFingerprints.length === 2 && edge.session.isConnected,
      {
        timeoutMs: 30_000,
        what: 'the edge to trust both CAs',
      },
    );

    // 2. The server switches to a certificate from the new CA: the edge keeps connecting.
    await server.close();
    server = await serve(newCerts.server, bundle);
    await waitFor(() => edge.session.isConnected, { timeoutMs: 30_000, what: 'online with the new certificate' });

    // 3. The old CA is withdrawn.
    await server.close();
    server = await serve(newCerts.server, newCerts.ca.cert);
    await edge.session.tokens.refresh('test');
    await waitFor(
      () => {
        const cas = siteEndpointReport(edge.runtime.state)!.caFingerprints;
        return cas.length === 1 && cas[0] !== oldFingerprint && edge.session.isConnected;
      },
      { timeoutMs: 30_000, what: 'the old CA withdrawn' },
    );
    await server.close();
  });
});
