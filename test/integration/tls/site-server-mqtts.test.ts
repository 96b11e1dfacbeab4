/**
 * The mock site server's embedded broker on mqtts (`--tls-cert/--tls-key/--tls-ca`), with real processes and real
 * TLS on loopback. Proves: the CA travels site server → cloud → edge (a real edge pairs and comes online trusting
 * only that CA); a certificate for another host keeps the edge offline with a lastError naming the host problem;
 * the packet-size guard and the listener fault work the same behind TLS; bad TLS flags exit 2 with the flag named.
 */
import { PAIRING_URI_ENV } from '../../../src/edge/cli/secret-input.js';
import { readFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCerts, type CertSet } from '../../../scripts/gen-certs.js';
import { createLogger } from '../../../src/common/log/log.js';
import {
  startMockSiteServer,
  type MockSiteServer,
  type SiteServerOptionsInput,
} from '../../../src/mock/site-server/index.js';
import { mosquittoUnavailable, startMosquitto } from '../../helpers/mosquitto.js';
import { commandFor, runToEnd, startEntry, type Child } from '../../helpers/process.js';
import { tempDir, testHardwareId } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { SHIPPED_ACL } from '../mock-site-server/helpers/modes.js';
import {
  api,
  connectEdge,
  refusalCode,
  startCloudSite,
  startSiteServer,
  type CloudSite,
  type PairedEdge,
} from '../mock-site-server/helpers/site.js';

const SITE_ENTRY = 'src/mock/site-server/main.ts';
const EDGE_ENTRY = 'src/edge/main.ts';
let certs: CertSet;
const ca = () => readFileSync(certs.ca.cert, 'utf8');

beforeAll(() => {
  certs = generateCerts(tempDir('cst-certs-'), { bad: true });
});

/**
 * Pairs a real edge (CLI) with the site's cloud and starts `run`. `pair` ends with a connect check (a warning, not
 * a failure, when it does not pass): its step line is returned, since it is the technician's first hint.
 */
async function realEdge(site: CloudSite, edgeId: string) {
  const { pairingUri } = await site.admin.createPairingCode(site.orgId, site.siteId, { edgeId });
  const common = ['--state-dir', tempDir('cst-edge-'), '--hardware-id', testHardwareId(edgeId), '--json'];
  const { command, args } = commandFor('node', EDGE_ENTRY);
  const paired = await runToEnd(command, [...args, 'pair', '--edge-id', edgeId, ...common], {
    env: { [PAIRING_URI_ENV]: pairingUri },
  });
  expect(paired.code, paired.stderr).toBe(0);
  const connectStep = paired.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => l.step === 'connect' && l.status !== 'start');
  const run = startEntry('node', EDGE_ENTRY, ['run', '--producer-port', 'off', ...common]);
  return { run, common, connectStep };
}

describe('embedded broker on mqtts (CLI)', () => {
  let site: CloudSite;
  let server: Child;
  let mqttUrl: string;
  let control: { httpUrl: string; controlToken: string };
  let edge: PairedEdge;

  beforeAll(async () => {
    site = await startCloudSite();
    server = startEntry(
      'node',
      SITE_ENTRY,
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
        testHardwareId('mqtts'),
        '--tls-cert',
        certs.server.cert,
        '--tls-key',
        certs.server.key,
        '--tls-ca',
        certs.ca.cert,
      ],
      { env: { CONSYSTENCE_SITE_CODE: await site.serverCode() } },
    );
    const ready = await server.waitForLine((l) => l.event === 'listening', 30_000);
    mqttUrl = String(ready.mqttUrl);
    control = { httpUrl: String(ready.httpUrl), controlToken: String(ready.controlToken) };
    edge = await site.pairEdge('orin-mqtts-raw');
  });
  afterAll(async () => {
    await server?.kill('SIGTERM');
  });

  it('announces mqtts://, and a real edge pairs and comes online trusting only the CA it received', async () => {
    expect(mqttUrl).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/);
    const { run, connectStep } = await realEdge(site, 'orin-mqtts-01');
    expect(connectStep).toMatchObject({ status: 'ok' });
    await run.waitForLine((l) => l.event === 'state' && l.state === 'online', 30_000);
    await waitFor(async () => (await api(control, 'GET', '/edges/orin-mqtts-01')).body.presence?.state === 'online', {
      what: 'online at the site server',
    });
    // With the operator's certificate on the edge listener, edge requests go there over https, so an mqtts edge
    // (which never sends its token over http) uploads the bundle the site asks for.
    const asked = await api(control, 'POST', '/edges/orin-mqtts-01/support-bundle', { timeoutMs: 60_000 });
    expect(asked.status, JSON.stringify(asked.body)).toBe(200);
    expect(String(asked.body.uploadUrl)).toMatch(/^https:\/\/127\.0\.0\.1:\d+\//);
    expect((await run.kill('SIGTERM')).code).toBe(0);
    // The key is never logged; the CA is not a secret but is noise, so it is not logged either.
    expect(server.stderr.join('\n')).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);
  });

  it('refuses a plain (non-TLS) MQTT client on the mqtts port', async () => {
    expect(String(await refusalCode(connectEdge(mqttUrl.replace('mqtts:', 'mqtt:'), edge)))).toMatch(
      /closed|ECONNRESET|CONNACK/,
    );
  });

  it('cuts a packet that announces more than the limit, behind TLS, and keeps serving', async () => {
    const client = await connectEdge(mqttUrl, edge, { ca: ca() });
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.publish(edge.topics.telemetry, Buffer.alloc(10 * 1024 * 1024, 0x41), { qos: 0 });
    await closed;
    client.end(true);
    await waitFor(() => server.stderr.some((l) => l.includes('connection_cut') && /exceeds/.test(l)), {
      what: "the packet guard's log line",
    });
    expect(await refusalCode(connectEdge(mqttUrl, edge, { ca: ca() }))).toBe(0);
  });

  it('listener stop closes TLS sessions and half-done handshakes; start serves mqtts again on the same port', async () => {
    const client = await connectEdge(mqttUrl, edge, { ca: ca() });
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    // A client that opened TCP and never started its handshake must not hold the stop up.
    const { port } = new URL(mqttUrl);
    const stuck = tcpConnect(Number(port), '127.0.0.1');
    stuck.on('error', () => {});
    await new Promise<void>((resolve) => stuck.once('connect', () => resolve()));
    const stuckClosed = new Promise<void>((resolve) => stuck.once('close', () => resolve()));

    expect((await api(control, 'POST', '/faults/listener', { action: 'stop' })).body.listener).toBe('stopped');
    await Promise.all([closed, stuckClosed]);
    client.end(true);
    expect(String(await refusalCode(connectEdge(mqttUrl, edge, { ca: ca() })))).toMatch(/ECONNREFUSED/);
    await api(control, 'POST', '/faults/listener', { action: 'start' });
    expect(await refusalCode(connectEdge(mqttUrl, edge, { ca: ca() }))).toBe(0);
  });
});

describe('a site server whose certificate is for another host', () => {
  let server: MockSiteServer | undefined;
  afterAll(async () => server?.close());

  it('warns at start; the edge stays offline and status shows the host-name problem', async () => {
    const site = await startCloudSite();
    const logs: string[] = [];
    server = await startMockSiteServer(
      {
        cloud: site.cloudUrl,
        orgId: site.orgId,
        siteId: site.siteId,
        mqttPort: 0,
        httpPort: 0,
        hardwareId: testHardwareId('wrong-host'),
        code: await site.serverCode(),
        tlsCert: certs.bad!.wrongHost.cert,
        tlsKey: certs.bad!.wrongHost.key,
        tlsCa: certs.ca.cert,
      },
      { logger: createLogger({ write: (line) => logs.push(line) }) },
    );
    expect(logs.join('\n')).toMatch(/tls_certificate_warning.*not issued for 127\.0\.0\.1/);

    const { run, common, connectStep } = await realEdge(site, 'orin-wrong-host');
    expect(connectStep).toMatchObject({
      status: 'warn',
      message: expect.stringMatching(/not issued for 127\.0\.0\.1/),
    });
    await run.waitForLine((l) => l.event === 'state' && l.state === 'offline', 30_000);
    const { command, args } = commandFor('node', EDGE_ENTRY);
    const status = await runToEnd(command, [...args, 'status', ...common]);
    expect(status.code, status.stderr).toBe(0);
    const report = JSON.parse(status.stdout) as { state: string; lastError: string | null };
    expect(report.lastError).toMatch(
      /site server's certificate is not issued for 127\.0\.0\.1 \(ERR_TLS_CERT_ALTNAME_INVALID\)/,
    );
    expect(run.lines.some((l) => l.event === 'state' && l.state === 'online')).toBe(false);
    expect((await api(server, 'GET', '/edges/orin-wrong-host')).body.presence?.state).not.toBe('online');
    await run.kill('SIGTERM');
  });
});

const noMosquitto = mosquittoUnavailable();
if (noMosquitto) console.warn(`external-broker mqtts test skipped: ${noMosquitto}`);

describe.skipIf(!!noMosquitto)('an external broker on mqtts with a private CA', () => {
  it("--tls-ca lets the site logic trust mosquitto's certificate (and nothing else is needed)", async () => {
    const broker = await startMosquitto({
      listeners: [{ tls: { cafile: certs.ca.cert, certfile: certs.server.cert, keyfile: certs.server.key } }],
      users: { 'site-server': 'site-server-secret' },
      acl: SHIPPED_ACL,
      config: ['use_username_as_clientid true'],
    });
    try {
      const server = await startSiteServer(await startCloudSite(), {
        broker: 'external',
        brokerUrl: broker.url.replace('127.0.0.1', 'localhost'),
        brokerUsername: 'site-server',
        brokerPassword: 'site-server-secret',
        tlsCa: certs.ca.cert,
      });
      // The site logic connects in the background; under load that can trail the ready line.
      const health = await waitFor(
        async () => {
          const { body } = await api(server, 'GET', '/health');
          return (body as { siteClientConnected?: boolean }).siteClientConnected ? body : null;
        },
        { what: 'the site logic connected to mosquitto over mqtts' },
      );
      expect(health).toMatchObject({ siteClientConnected: true, mqttUrl: expect.stringMatching(/^mqtts:/) });
    } finally {
      await broker.stop();
    }
  });
});

describe('TLS flags are checked before anything listens', () => {
  const base = (): SiteServerOptionsInput => ({
    cloud: 'http://127.0.0.1:1',
    orgId: '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0c11',
    siteId: '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0c12',
    code: 'x',
    mqttPort: 0,
    httpPort: 0,
  });
  const quiet = { logger: createLogger({ write: () => {} }) };

  it.each([
    ['a certificate without its key', () => ({ tlsCert: certs.server.cert }), /--tls-cert and --tls-key go together/],
    ['--tls-ca without a certificate', () => ({ tlsCa: certs.ca.cert }), /--tls-ca needs --tls-cert and --tls-key/],
    [
      'an unreadable certificate',
      () => ({ tlsCert: '/nonexistent/server.pem', tlsKey: certs.server.key }),
      /--tls-cert \/nonexistent\/server\.pem: cannot read it \(ENOENT\)/,
    ],
    [
      'a key as the certificate',
      () => ({ tlsCert: certs.server.key, tlsKey: certs.server.key }),
      /--tls-cert .*: not a PEM certificate/,
    ],
    [
      'a key of another certificate',
      () => ({ tlsCert: certs.server.cert, tlsKey: certs.bad!.selfSigned.key }),
      /--tls-key .* does not belong to --tls-cert/,
    ],
    [
      'a leaf certificate as the CA',
      () => ({ tlsCert: certs.server.cert, tlsKey: certs.server.key, tlsCa: certs.server.cert }),
      /--tls-ca .*: holds a certificate that is not a CA/,
    ],
  ])('refuses %s with a message naming the flag', async (_name, extra, message) => {
    const error = await startMockSiteServer({ ...base(), ...extra() }, quiet).then(
      () => null,
      (e: Error & { code?: string }) => e,
    );
    expect(error?.message).toMatch(message);
    expect(error?.code).toBe('USAGE');
    // Whatever went wrong, no key material is ever part of the message.
    for (const key of [certs.server.key, certs.bad!.selfSigned.key])
      expect(error?.message).not.toContain(readFileSync(key, 'utf8').split('\n')[1]);
    expect(error?.message).not.toMatch(/PRIVATE KEY-----/);
  });

  it('the CLI exits 2 for a certificate without a key', async () => {
    const { command, args } = commandFor('node', SITE_ENTRY);
    const result = await runToEnd(
      command,
      [
        ...args,
        '--cloud',
        'http://127.0.0.1:1',
        '--org',
        base().orgId,
        '--site',
        base().siteId,
        '--code',
        'x',
        '--tls-cert',
        certs.server.cert,
      ],
      { timeoutMs: 30_000 },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--tls-cert and --tls-key go together/);
  });
});
