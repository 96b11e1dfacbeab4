/**
 * Issue 12.3: a database error while handling a config push or a command must not kill the edge. A real `run`
 * process; another process holds SQLite's write lock on the edge's credentials database (as a stuck backup tool
 * or a second CLI would), so every write fails with "database is locked" after the busy timeout. The control
 * path answers (config rejected with the reason, the command FAILED), the process keeps running, and once the
 * lock is gone the next push applies.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDENTITY_DB_FILE } from '../../../src/edge/stores/index.js';
import { startCloudProcess, type CloudProcess } from '../support/cloud.js';
import { pairingUri, testEdge } from '../support/edge.js';

describe.each(['node', 'bun'] as const)('control path under a database error (%s)', (runtime) => {
  let cloud: CloudProcess;
  beforeAll(async () => {
    cloud = await startCloudProcess();
  });
  afterAll(async () => {
    await cloud?.child.kill('SIGKILL');
  });

  it('answers a config push and a command while the database refuses writes, and keeps running', async () => {
    const edge = await testEdge(cloud, runtime, `dberr-${runtime}`);
    const paired = await edge.cli([
      'pair',
      '--uri',
      await pairingUri(cloud, edge.siteId, edge.edgeId),
      '--edge-id',
      edge.edgeId,
      '--json',
    ]);
    expect(paired.code, paired.stderr).toBe(0);
    const child = edge.run();
    await child.waitForLine((l) => l.event === 'state' && l.state === 'online', 30_000);

    // In WAL mode BEGIN EXCLUSIVE takes the write lock and leaves readers alone: only the edge's writes fail.
    const blocker = new Database(join(edge.stateDir, IDENTITY_DB_FILE));
    blocker.exec('BEGIN EXCLUSIVE');
    try {
      const pushed = await edge.site.api('POST', `/edges/${edge.edgeId}/config`, {
        config: { heartbeatSeconds: 7 },
        wait: true,
        timeoutMs: 20_000,
      });
      expect(pushed.status, JSON.stringify(pushed.body)).toBe(200);
      expect(pushed.body.reported).toMatchObject({ status: 'rejected', error: expect.stringMatching(/locked/) });

      const ping = await edge.site.api('POST', `/edges/${edge.edgeId}/commands`, { name: 'ping', timeoutMs: 20_000 });
      expect(ping.status, JSON.stringify(ping.body)).toBe(200);
      expect(ping.body.result).toMatchObject({
        ok: false,
        error: { code: 'FAILED', message: expect.stringMatching(/locked/) },
      });
    } finally {
      blocker.exec('ROLLBACK');
      blocker.close();
    }

    expect(child.proc.exitCode).toBeNull();
    const again = await edge.site.api('POST', `/edges/${edge.edgeId}/config`, {
      config: { heartbeatSeconds: 8 },
      wait: true,
      timeoutMs: 20_000,
    });
    expect(again.body.reported).toMatchObject({ status: 'applied' });
    const ping = await edge.site.api('POST', `/edges/${edge.edgeId}/commands`, { name: 'ping', timeoutMs: 20_000 });
    expect(ping.body.result).toMatchObject({ ok: true });
    await child.kill('SIGTERM');
  }, 120_000);
});
