/**
 * The edge against Debian's mosquitto 2.0, a broker that is not ours: started with a generated config, password
 * file (the edge's token as its password, since mosquitto cannot verify JWTs) and ACL pattern file. Proves: the
 * edge speaks MQTT 5 to it over mqtt and mqtts (only the delivered CA trusted), and 3.1.1 over mqtts; another
 * edge cannot read its topics; `mosquitto_sub` sees the retained status and the telemetry; a broker restart
 * brings the edge back online by itself.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCerts, type CertSet } from '../../../scripts/gen-certs.js';
import { MqttLink } from '../../../src/edge/session/mqtt-link.js';
import { createLogger } from '../../../src/common/log/log.js';
import { mosquittoUnavailable, startMosquitto, type RunningMosquitto } from '../../helpers/mosquitto.js';
import { tempDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { pairEdge, siteAcl, siteAt, startCloud, type Cloud, type TestEdge } from './support.js';

const missing = mosquittoUnavailable();
if (missing) console.warn(`interop tests skipped: ${missing}`);
const OBSERVER = { username: 'observer', password: 'observer-secret' };

describe.skipIf(!!missing)('edge against Debian mosquitto', () => {
  let certs: CertSet;
  let cloud: Cloud;
  let broker: RunningMosquitto;
  let plainSite: string;
  let tlsSite: string;
  const edges: TestEdge[] = [];
  const users: Record<string, string> = { [OBSERVER.username]: OBSERVER.password };
  const addUser = async (edge: TestEdge) => {
    users[edge.edgeId] = edge.token();
    await broker.setUsers(users);
  };
  const topic = (siteId: string, edgeId: string, leaf: string) =>
    `consystence/v1/sites/${siteId}/edges/${edgeId}/${leaf}`;

  beforeAll(async () => {
    certs = generateCerts(tempDir('cst-certs-'));
    cloud = await startCloud();
    // One ACL for both sites: each site's patterns name its own id.
    const placeholder = 'SITE';
    broker = await startMosquitto({
      listeners: [{}, { tls: { cafile: certs.ca.cert, certfile: certs.server.cert, keyfile: certs.server.key } }],
      users,
      acl: siteAcl(placeholder, OBSERVER.username).replaceAll(`/sites/${placeholder}/`, '/sites/+/'),
    });
    plainSite = await siteAt(cloud, broker.urls[0]!);
    tlsSite = await siteAt(
      cloud,
      broker.urls[1]!.replace('127.0.0.1', 'localhost'),
      readFileSync(certs.ca.cert, 'utf8'),
    );
  }, 30_000);

  afterAll(async () => {
    for (const edge of edges) await edge.close().catch(() => {});
    await broker?.stop();
    await cloud?.close();
  });

  it('connects with MQTT 5 over mqtt; mosquitto_sub sees the retained status and the telemetry', async () => {
    const edge = await pairEdge(cloud, plainSite, 'orin-plain-01');
    edges.push(edge);
    await addUser(edge);
    const session = edge.start();
    await waitFor(() => session.state === 'online', { timeoutMs: 15_000, what: 'the edge online' });
    expect(broker.log()).toMatch(/as orin-plain-01 \(p5/); // mosquitto logs the protocol: p5 = MQTT 5

    const envelope = {
      seq: 1,
      ts: new Date().toISOString(),
      historical: false,
      records: [{ tag: 'pump.rpm', ts: new Date().toISOString(), value: 1480 }],
    };
    const sub = spawn(
      'mosquitto_sub',
      [
        '-h',
        '127.0.0.1',
        '-p',
        String(broker.ports[0]),
        '-u',
        OBSERVER.username,
        '-P',
        OBSERVER.password,
        '-V',
        'mqttv311',
        '-v',
        '-t',
        topic(plainSite, edge.edgeId, '#'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    sub.stdout.on('data', (d) => (out += d));
    try {
      await waitFor(() => out.includes('"state":"online"'), {
        timeoutMs: 10_000,
        what: 'the retained online status in mosquitto_sub',
      });
      await waitFor(
        async () => {
          await session.publish(topic(plainSite, edge.edgeId, 'telemetry'), JSON.stringify(envelope), { qos: 1 });
          return out.includes('"pump.rpm"');
        },
        { timeoutMs: 10_000, intervalMs: 300, what: 'the telemetry in mosquitto_sub' },
      );
      expect(out).toContain(`${topic(plainSite, edge.edgeId, 'telemetry')} {"seq":1`);
    } finally {
      sub.kill('SIGKILL');
    }
  });

  it("another edge cannot read the first edge's topics", async () => {
    const first = edges[0]!;
    const other = await pairEdge(cloud, plainSite, 'orin-plain-02');
    edges.push(other);
    await addUser(other);
    // The second edge's own credentials, used by a client that tries to read everything of the first.
    const spy = await mqtt.connectAsync({
      host: '127.0.0.1',
      port: broker.ports[0]!,
      protocolVersion: 5,
      clientId: other.edgeId,
      username: other.edgeId,
      password: other.token(),
      reconnectPeriod: 0,
    });
    try {
      const granted = await spy.subscribeAsync(
        [topic(plainSite, first.edgeId, '#'), topic(plainSite, first.edgeId, 'status')],
        { qos: 1 },
      );
      // mosquitto 2.0.11 grants the SUBACK and then filters every message by ACL (newer ones answer 0x87).
      for (const g of granted) expect([0, 1, 0x87]).toContain(g.qos);
      const seen: string[] = [];
      spy.on('message', (t) => seen.push(t));
      await first.session!.publish(topic(plainSite, first.edgeId, 'telemetry'), '{"seq":2}', { qos: 1 });
      await new Promise((r) => setTimeout(r, 500));
      expect(seen).toEqual([]);
    } finally {
      await spy.endAsync(true);
    }
  });

  it('connects with MQTT 5 over mqtts, trusting only the CA delivered at pairing', async () => {
    const edge = await pairEdge(cloud, tlsSite, 'orin-tls-01');
    edges.push(edge);
    expect(edge.runtime.state.registration.get()!.config.siteServer.mqtt.caCertificatePem).toContain(
      'BEGIN CERTIFICATE',
    );
    await addUser(edge);
    const session = edge.start();
    await waitFor(() => session.state === 'online', { timeoutMs: 15_000, what: 'the edge online over mqtts' });
    expect(broker.log()).toMatch(/as orin-tls-01 \(p5/);
  });

  it('speaks 3.1.1 over mqtts when asked to (the fallback path)', async () => {
    const edge = edges.find((e) => e.edgeId === 'orin-tls-01')!;
    const reg = edge.runtime.state.registration.get()!;
    let online = false;
    const link = new MqttLink({
      mqtt: reg.config.siteServer.mqtt,
      clientId: 'orin-tls-311',
      password: () => 'x',
      protocolVersion: 4,
      will: { topic: 'w', payload: 'x' },
      subscriptions: [],
      logger: createLogger({ level: 'error', write: () => {} }),
      onConnect: () => {},
      onMessage: () => {},
      onState: (s) => (online ||= s === 'online'),
      onAuthRefused: async () => false,
    });
    users['orin-tls-311'] = 'x';
    await broker.setUsers(users);
    link.start();
    try {
      await waitFor(() => online, { timeoutMs: 15_000, what: 'a 3.1.1 connection over mqtts' });
      expect(broker.log()).toMatch(/as orin-tls-311 \(p2/); // p2 = MQTT 3.1.1 in mosquitto's log
    } finally {
      await link.stop();
    }
  });

  it('reconnects by itself after a mosquitto restart', async () => {
    const edge = edges[0]!;
    await broker.restart();
    await waitFor(() => edge.session!.state !== 'online', { timeoutMs: 10_000, what: 'the edge noticing the restart' });
    await waitFor(() => edge.session!.state === 'online', { timeoutMs: 20_000, what: 'the edge back online' });
    const reconnects = broker.log().match(/as orin-plain-01 \(p5/g) ?? [];
    expect(reconnects.length).toBeGreaterThanOrEqual(2);
  });
});
