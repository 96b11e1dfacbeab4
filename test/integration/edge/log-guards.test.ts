/**
 * Network text reaching the log (issue 18.9), through a real session on a real mosquitto: a config push with a
 * 60,000-character key is logged capped, and a burst of malformed commands is logged once and then counted.
 */
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/common/log/log.js';
import { createEdgeRuntime } from '../../../src/edge/runtime.js';
import { edgeTopics } from '../../../src/protocol/index.js';
import { freePort, mosquittoUnavailable, startMosquitto } from '../../helpers/mosquitto.js';
import { tempDir, testHardwareId } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

const SITE = '9b1d2c3e-4f5a-4b6c-8d7e-0f1a2b3c4d5e';
const EDGE = 'edge-1';
const PREFIX = `consystence/v1/sites/${SITE}/edges/${EDGE}`;
const BURST = 300;

describe.skipIf(mosquittoUnavailable())('what network input does to the log', () => {
  it('caps a huge config key and counts a burst of malformed commands instead of logging each', async () => {
    const broker = await startMosquitto({ users: { [EDGE]: 'token', site: 'site' } });
    const lines: string[] = [];
    const logger = createLogger({ write: (line) => lines.push(line), repeatWindowMs: 1_500 });
    const hardwareId = testHardwareId('log-guards');
    const runtime = await createEdgeRuntime({ stateDir: tempDir('cst-logguard-'), hardwareId, logger });
    runtime.state.registration.put({
      edgeUuid: '7d1d2c3e-4f5a-4b6c-8d7e-0f1a2b3c4d5e',
      edgeId: EDGE,
      orgId: '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0c11',
      siteId: SITE,
      cloudUrl: `http://127.0.0.1:${await freePort()}`,
      hardwareId,
      edgeToken: 'token',
      tokenIat: Math.floor(Date.now() / 1000),
      tokenExp: Math.floor(Date.now() / 1000) + 86_400,
      config: {
        siteServer: { url: 'http://127.0.0.1:1', mqtt: { url: broker.url, topicPrefix: PREFIX, keepaliveSeconds: 30 } },
        heartbeatSeconds: 30,
        buffer: { retentionDays: 7, maxSizeMb: 10 },
      },
      pairedAt: new Date().toISOString(),
      tokenRefreshedAt: null,
      revokedAt: null,
    });
    const session = runtime.createSession();
    session.start();
    let site: mqtt.MqttClient | null = null;
    try {
      await waitFor(() => session.state === 'online', { timeoutMs: 30_000, what: 'online' });
      site = await mqtt.connectAsync(broker.url, {
        username: 'site',
        password: 'site',
        clientId: 'site-test',
        reconnectPeriod: 0,
        connectTimeout: 10_000,
      });
      const topics = edgeTopics(PREFIX);

      const hugeKey = 'k'.repeat(60_000);
      await site!.publishAsync(topics.config, JSON.stringify({ version: 2, config: { [hugeKey]: 1 } }), { qos: 1 });
      const rejected = await waitFor(() => lines.find((l) => l.includes('"config_rejected"')), {
        what: 'config_rejected',
      });
      expect(rejected.length).toBeLessThan(4_000);
      // The reason names an unknown key by a short, scrubbed excerpt only (never 16 characters of it).
      expect(rejected).not.toContain('k'.repeat(16));

      for (let i = 0; i < BURST; i++) await site!.publishAsync(topics.cmd, `not json ${i}`, { qos: 1 });
      const summary = await waitFor(
        () => lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === 'log_suppressed'),
        { timeoutMs: 30_000, what: 'the suppressed-warnings summary' },
      );
      const bad = lines.filter((l) => l.includes('"event":"command_bad"'));
      expect(bad.length).toBeLessThanOrEqual(3); // the first of each window
      expect(summary).toMatchObject({ suppressedEvent: 'command_bad' });
      // Every malformed command is accounted for: logged, or counted in a summary.
      await waitFor(
        () => {
          const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
          const counted = parsed
            .filter((l) => l.event === 'log_suppressed' && l.suppressedEvent === 'command_bad')
            .reduce((sum, l) => sum + Number(l.count), 0);
          return parsed.filter((l) => l.event === 'command_bad').length + counted === BURST;
        },
        { timeoutMs: 30_000, what: `${BURST} malformed commands accounted for` },
      );
    } finally {
      site?.end(true);
      await session.stop();
      runtime.close();
      await broker.stop();
    }
  }, 90_000);
});
