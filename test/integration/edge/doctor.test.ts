/**
 * `doctor` tests what breaks a device (issue 12.14): a real mosquitto that refuses or accepts the device's token,
 * a cloud that is a closed port, the real CLI for the exit code, and a running session that doctor must not kick.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/common/log/log.js';
import { createEdgeRuntime } from '../../../src/edge/runtime.js';
import { commandFor, runToEnd } from '../../helpers/process.js';
import { freePort, mosquittoUnavailable, startMosquitto } from '../../helpers/mosquitto.js';
import { tempDir, testHardwareId } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

const SITE = '9b1d2c3e-4f5a-4b6c-8d7e-0f1a2b3c4d5e';
const EDGE = 'edge-1';
const TOKEN = 'the-current-token';

/** A state dir holding a paired device whose broker is `brokerUrl` and whose cloud is a closed port. */
async function pairedState(brokerUrl: string) {
  const stateDir = tempDir('cst-doctor-');
  const hardwareId = testHardwareId('doctor');
  const runtime = await createEdgeRuntime({ stateDir, hardwareId, logger: silentLogger });
  runtime.state.registration.put({
    edgeUuid: '7d1d2c3e-4f5a-4b6c-8d7e-0f1a2b3c4d5e',
    edgeId: EDGE,
    orgId: '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0c11',
    siteId: SITE,
    cloudUrl: `http://127.0.0.1:${await freePort()}`,
    hardwareId,
    edgeToken: TOKEN,
    tokenIat: Math.floor(Date.now() / 1000),
    tokenExp: Math.floor(Date.now() / 1000) + 30 * 86_400,
    config: {
      siteServer: {
        url: 'http://127.0.0.1:1',
        mqtt: { url: brokerUrl, topicPrefix: `consystence/v1/sites/${SITE}/edges/${EDGE}`, keepaliveSeconds: 30 },
      },
      heartbeatSeconds: 30,
      buffer: { retentionDays: 7, maxSizeMb: 10 },
    },
    pairedAt: new Date(Date.now() - 86_400_000).toISOString(),
    tokenRefreshedAt: null,
    revokedAt: null,
  });
  return { stateDir, hardwareId, runtime };
}

async function doctorCli(stateDir: string, hardwareId: string, json = true) {
  const { command, args } = commandFor('node', 'src/edge/main.ts');
  const result = await runToEnd(command, [
    ...args,
    'doctor',
    ...(json ? ['--json'] : []),
    '--state-dir',
    stateDir,
    '--hardware-id',
    hardwareId,
  ]);
  return { ...result, report: json ? JSON.parse(result.stdout) : null };
}

type Row = { name: string; level: string; detail: string };
const rowOf = (report: { checks: Row[] }, name: string) => report.checks.find((c) => c.name === name);

describe.skipIf(mosquittoUnavailable())('doctor', () => {
  it('FAILs (exit 8) when the broker refuses the token, although its port is reachable', async () => {
    const broker = await startMosquitto({ users: { [EDGE]: 'another-token' } });
    const { stateDir, hardwareId, runtime } = await pairedState(broker.url);
    runtime.close();
    const result = await doctorCli(stateDir, hardwareId);
    expect(result.code).toBe(8);
    expect(rowOf(result.report, 'site-server')).toMatchObject({
      level: 'fail',
      detail: expect.stringMatching(/refused the connection/),
    });
    expect(result.report.summary.fail).toBeGreaterThanOrEqual(1);
    await broker.stop();
  }, 60_000);

  it('with the cloud out of reach and the token accepted: WARN for the cloud, OK login, exit 0, one clock row', async () => {
    const broker = await startMosquitto({ users: { [EDGE]: TOKEN } });
    const { stateDir, hardwareId, runtime } = await pairedState(broker.url);
    runtime.close();
    const result = await doctorCli(stateDir, hardwareId);
    expect(result.code, result.stdout).toBe(0);
    const report = result.report as { ok: boolean; summary: Record<string, number>; checks: Row[] };
    expect(report.ok).toBe(true);
    expect(rowOf(report, 'cloud')).toMatchObject({
      level: 'warn',
      detail: expect.stringMatching(/works without the cloud/),
    });
    expect(rowOf(report, 'site-server')).toMatchObject({
      level: 'ok',
      detail: expect.stringMatching(/accepted this device's token/),
    });
    expect(rowOf(report, 'service')).toMatchObject({ level: 'warn', detail: expect.stringMatching(/not running/) });
    expect(rowOf(report, 'disk')).toMatchObject({ level: 'ok', detail: expect.stringMatching(/MiB free in/) });
    expect(rowOf(report, 'token')).toMatchObject({ level: 'ok' });
    expect(report.checks.filter((c) => c.name === 'clock')).toHaveLength(1);
    expect(report.checks.every((c) => ['ok', 'warn', 'fail', 'skip'].includes(c.level))).toBe(true);

    const text = await doctorCli(stateDir, hardwareId, false);
    expect(text.stdout).toMatch(/^WARN +cloud /m);
    expect(text.stdout).toMatch(/^ OK +site-server /m);
    expect(text.stdout).toMatch(/\d+ OK, \d+ WARN, 0 FAIL, \d+ SKIP: this device works; the WARN rows need attention/);
    await broker.stop();
  }, 60_000);

  it('while the service runs, reads its live session instead of logging in again (which would take it over)', async () => {
    const broker = await startMosquitto({ users: { [EDGE]: TOKEN }, config: ['use_username_as_clientid true'] });
    const { runtime } = await pairedState(broker.url);
    const session = runtime.createSession();
    const states: string[] = [];
    session.on('state', (s) => states.push(s));
    session.start();
    try {
      await waitFor(() => session.state === 'online', { timeoutMs: 30_000, what: 'online' });
      const checks = await runtime.doctor();
      expect(checks.find((c) => c.name === 'service')).toMatchObject({ level: 'ok' });
      expect(checks.find((c) => c.name === 'site-server')).toMatchObject({
        level: 'ok',
        detail: expect.stringMatching(/the running service is logged in/),
      });
      // A takeover would show as an offline transition within a moment of the doctor run.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(states.filter((s) => s === 'offline')).toEqual([]);
      expect(session.isConnected).toBe(true);
    } finally {
      await session.stop();
      runtime.close();
      await broker.stop();
    }
  }, 60_000);
});
