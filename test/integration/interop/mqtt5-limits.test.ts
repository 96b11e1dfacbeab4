/**
 * The MQTT 5 limits a broker announces in CONNACK, honoured by the real `consystence-edge run` against Debian's
 * mosquitto 2.0 configured with `max_keepalive 10` (the edge registers 30 s: mosquitto answers Server Keep Alive
 * 10 and disconnects a client silent for 1.5 × 10 s), `max_inflight_messages 4` (sent as Receive Maximum) and
 * `max_topic_alias 2`. A tap between them (test/helpers/mqtt-tap.ts) delays the broker's answers by 300 ms, so
 * while a 40-envelope backlog drains the edge could put all 40 in flight if it ignored the limit, and records
 * the PUBLISHes' aliases and the PINGREQs.
 */
import { PAIRING_URI_ENV } from '../../../src/edge/cli/secret-input.js';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/common/log/log.js';
import { createEdgeRuntime } from '../../../src/edge/runtime.js';
import { freePort, mosquittoUnavailable, startMosquitto, type RunningMosquitto } from '../../helpers/mosquitto.js';
import { startMqttTap, type MqttTap } from '../../helpers/mqtt-tap.js';
import { commandFor, runToEnd, startEntry, type Child } from '../../helpers/process.js';
import { tempDir, testHardwareId } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { DEMO_ORG_ID, siteAcl, siteAt, startCloud, type Cloud } from './support.js';

const missing = mosquittoUnavailable();
if (missing) console.warn(`MQTT 5 limits test skipped: ${missing}`);
const OBSERVER = { username: 'observer', password: 'observer-secret' };
const EDGE_ID = 'orin-limits-01';
const RECEIVE_MAXIMUM = 4;
const TOPIC_ALIAS_MAXIMUM = 2;
const BACKLOG = 40;

describe.skipIf(!!missing)('MQTT 5 limits from mosquitto', () => {
  let cloud: Cloud;
  let broker: RunningMosquitto;
  let tap: MqttTap;
  let observer: MqttClient | undefined;
  let edge: Child | undefined;

  beforeAll(async () => {
    cloud = await startCloud();
  }, 30_000);
  afterAll(async () => {
    await edge?.kill('SIGTERM');
    await observer?.endAsync(true);
    await tap?.close();
    await broker?.stop();
    await cloud?.close();
  });

  it('uses the server keep-alive, never exceeds the receive maximum, keeps topic aliases within the maximum', async () => {
    // The tap first (the cloud must hand the edge its address), on the port mosquitto will take.
    const brokerPort = await freePort();
    tap = await startMqttTap(brokerPort, { ackDelayMs: 300 });
    const siteId = await siteAt(cloud, tap.url);
    const stateDir = tempDir('cst-limits-');
    const hardwareId = testHardwareId(EDGE_ID);
    const common = ['--state-dir', stateDir, '--hardware-id', hardwareId, '--json'];
    const { pairingUri } = await cloud.admin.createPairingCode(DEMO_ORG_ID, siteId, { edgeId: EDGE_ID });
    const { command, args } = commandFor('node', 'src/edge/main.ts');
    const paired = await runToEnd(command, [...args, 'pair', '--edge-id', EDGE_ID, '--no-connect', ...common], {
      env: { [PAIRING_URI_ENV]: pairingUri },
    });
    expect(paired.code, paired.stderr).toBe(0);
    // The backlog is committed before `run` starts, so it is all ready to send the moment the edge connects.
    const reader = await createEdgeRuntime({ stateDir, hardwareId, logger: createLogger({ write: () => {} }) });
    const registration = reader.state.registration.get()!;
    expect(registration.config.siteServer.mqtt.keepaliveSeconds).toBeGreaterThan(10); // the premise: the edge asks for more
    for (let i = 0; i < BACKLOG; i++)
      await reader
        .outbox()
        .enqueue('telemetry', [{ tag: 'backlog', ts: new Date().toISOString(), value: i }], { durable: 'now' });
    reader.close();
    // Started only now, with the edge's token in its password file: mosquitto 2.0.11 resets a listener's
    // max_topic_alias to the default (10) on a SIGHUP reload, so setUsers() would hide the limit under test.
    broker = await startMosquitto({
      users: { [OBSERVER.username]: OBSERVER.password, [EDGE_ID]: registration.edgeToken },
      acl: siteAcl('SITE', OBSERVER.username).replaceAll('/sites/SITE/', '/sites/+/'),
      config: ['max_keepalive 10', `max_inflight_messages ${RECEIVE_MAXIMUM}`],
      listeners: [{ port: brokerPort, extra: [`max_topic_alias ${TOPIC_ALIAS_MAXIMUM}`] }],
    });

    const seqs = new Set<number>();
    observer = await mqtt.connectAsync(broker.url, { ...OBSERVER, clientId: 'limits-observer', protocolVersion: 5 });
    observer.on('message', (_topic, payload) => seqs.add((JSON.parse(payload.toString()) as { seq: number }).seq));
    await observer.subscribeAsync(`consystence/v1/sites/${siteId}/edges/${EDGE_ID}/telemetry`, { qos: 1 });

    edge = startEntry('node', 'src/edge/main.ts', ['run', '--producer-port', 'off', '--log-level', 'debug', ...common]);
    await edge.waitForLine((l) => l.event === 'state' && l.state === 'online', 30_000);
    const connected = await waitFor(
      () =>
        edge!.stderr
          .flatMap((l) => {
            try {
              return [JSON.parse(l) as Record<string, unknown>];
            } catch {
              return [];
            }
          })
          .find((l) => l.event === 'mqtt_connected'),
      { what: 'the mqtt_connected log line' },
    );
    expect(connected).toMatchObject({
      protocolVersion: 5,
      serverKeepAlive: 10,
      receiveMaximum: RECEIVE_MAXIMUM,
      topicAliasMaximum: TOPIC_ALIAS_MAXIMUM,
    });

    await waitFor(() => seqs.size >= BACKLOG, {
      timeoutMs: 30_000,
      what: `all ${BACKLOG} backlog envelopes at the observer`,
    });
    // The window was full (the limit was reached, so a larger one would have shown) and never larger.
    expect(tap.peakInflight).toBe(RECEIVE_MAXIMUM);

    // Aliases: reused (a PUBLISH with an empty topic) and never above the server's maximum.
    const aliases = tap.publishes.map((p) => p.alias).filter((a): a is number => a !== null);
    expect(tap.publishes.some((p) => p.topic === '' && p.alias !== null)).toBe(true);
    expect(Math.max(...aliases)).toBeLessThanOrEqual(TOPIC_ALIAS_MAXIMUM);

    // Keep-alive: idle after the drain (heartbeats every 30 s), the edge pings within the server's 10 s, so
    // mosquitto (which drops a client silent for 15 s) keeps the one connection.
    const idleFrom = Date.now();
    await waitFor(() => tap.pingreqs.some((t) => t > idleFrom), { timeoutMs: 20_000, what: 'a PINGREQ from the edge' });
    expect(tap.connections).toBe(1);
    expect(broker.log()).not.toMatch(new RegExp(`Client ${EDGE_ID} has exceeded timeout`));
  }, 90_000);
});
