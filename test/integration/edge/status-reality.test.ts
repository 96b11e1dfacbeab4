/**
 * `status` matches what the running service is living through (issue 12.16): a real session in this process
 * against a real mosquitto (or a closed port), its snapshot in a real SQLite file, read back by `status`.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/common/log/log.js';
import { createEdgeRuntime, type EdgeRuntime } from '../../../src/edge/runtime.js';
import type { EdgeSession } from '../../../src/edge/session/session.js';
import { formatStatus } from '../../../src/edge/status/report.js';
import { freePort, mosquittoUnavailable, startMosquitto } from '../../helpers/mosquitto.js';
import { tempDir, testHardwareId } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

const SITE = '9b1d2c3e-4f5a-4b6c-8d7e-0f1a2b3c4d5e';
const EDGE = 'edge-1';

const open: Array<{ runtime: EdgeRuntime; session: EdgeSession }> = [];
afterEach(async () => {
  for (const { runtime, session } of open.splice(0)) {
    await session.stop();
    runtime.close();
  }
});

/** A paired runtime whose broker is `brokerUrl`; the cloud is a closed port, so token refreshes fail fast. */
async function pairedEdge(brokerUrl: string, options: { pairedAgoMs?: number; retryMs?: number } = {}) {
  const runtime = await createEdgeRuntime({
    stateDir: tempDir('cst-status-'),
    hardwareId: testHardwareId('status'),
    logger: silentLogger,
    reconnectPolicy: { baseMs: options.retryMs ?? 300, capMs: options.retryMs ?? 300, minMs: options.retryMs ?? 300 },
  });
  runtime.state.registration.put({
    edgeUuid: '7d1d2c3e-4f5a-4b6c-8d7e-0f1a2b3c4d5e',
    edgeId: EDGE,
    orgId: '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0c11',
    siteId: SITE,
    cloudUrl: `http://127.0.0.1:${await freePort()}`,
    hardwareId: runtime.hardwareId,
    edgeToken: 'the-new-token',
    tokenIat: Math.floor(Date.now() / 1000),
    tokenExp: Math.floor(Date.now() / 1000) + 3600,
    config: {
      siteServer: {
        url: 'http://127.0.0.1:1',
        mqtt: { url: brokerUrl, topicPrefix: `consystence/v1/sites/${SITE}/edges/${EDGE}`, keepaliveSeconds: 30 },
      },
      heartbeatSeconds: 30,
      buffer: { retentionDays: 7, maxSizeMb: 10 },
    },
    pairedAt: new Date(Date.now() - (options.pairedAgoMs ?? 0)).toISOString(),
    tokenRefreshedAt: null,
    revokedAt: null,
  });
  const session = runtime.createSession();
  open.push({ runtime, session });
  session.start();
  return { runtime, session };
}

describe('status while the site server cannot be reached', () => {
  it('says offline since when, and when the next attempt is', async () => {
    const { runtime } = await pairedEdge(`mqtt://127.0.0.1:${await freePort()}`, { retryMs: 60_000 });
    const report = await waitFor(() => {
      const r = runtime.status();
      return r.nextAttemptInSeconds !== null ? r : null;
    });
    expect(report.state).toBe('offline');
    expect(report.offlineSince).not.toBeNull();
    expect(report.nextAttemptInSeconds).toBeGreaterThan(0);
    expect(report.nextAttemptInSeconds).toBeLessThanOrEqual(60);
    const text = formatStatus(report);
    expect(text).toMatch(/offline since: +\S+ \(\d+(\.\d)? s ago\); next attempt in \d+ s/);
    expect(text).toMatch(/last error: +.*(ECONNREFUSED|refused|not reachable)/i);
  });
});

describe.skipIf(mosquittoUnavailable())('status against a real broker', () => {
  beforeAll(() => {
    const why = mosquittoUnavailable();
    if (why) console.warn(`skipped: ${why}`);
  });

  it('clears the last error once a later connection succeeds', async () => {
    const broker = await startMosquitto({ users: { [EDGE]: 'the-new-token' } });
    await broker.stop();
    const { runtime } = await pairedEdge(broker.url);
    await waitFor(() => runtime.status().lastError, { what: 'a connection error' });
    await broker.start();
    const online = await waitFor(
      () => {
        const r = runtime.status();
        return r.state === 'online' ? r : null;
      },
      { timeoutMs: 30_000, what: 'online' },
    );
    expect(online.lastError).toBeNull();
    expect(online.offlineSince).toBeNull();
    expect(online.nextAttemptInSeconds).toBeNull();
    expect(formatStatus(online)).toMatch(/last error: +-/);
    await broker.stop();
  });

  it('after a re-pair, a refused token means the site server has not caught up, not "revoked"', async () => {
    // The broker still knows only the previous registration's token.
    const broker = await startMosquitto({ users: { [EDGE]: 'the-old-token' } });
    const fresh = await pairedEdge(broker.url, { pairedAgoMs: 60_000 });
    const lastError = await waitFor(() => fresh.runtime.status().lastError, { timeoutMs: 30_000 });
    expect(lastError).toMatch(/has not yet learned of this device's new registration/);
    expect(lastError).not.toMatch(/revoked/);

    // Long after pairing, a refusal is reported as the broker's own refusal.
    const old = await pairedEdge(broker.url, { pairedAgoMs: 2 * 86_400_000 });
    const oldError = await waitFor(() => old.runtime.status().lastError, { timeoutMs: 30_000 });
    expect(oldError).toMatch(/refused the connection/);
    expect(oldError).not.toMatch(/not yet learned/);
    await broker.stop();
  });
});
