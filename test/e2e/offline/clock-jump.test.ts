/**
 * Issue 12.4: a board paired at 1970 whose clock is then corrected. libfaketime reads its time from a file that
 * the test rewrites while the edge runs ("@1970-01-02" → "+0"), as NTP arriving late would step the clock; the
 * monotonic clock stays real. With the cloud down, the edge must not claim "connected since 2083", call its good
 * token expired or keep retrying the refresh; `status` and a restarted `run` agree.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { startCloudProcess, type CloudProcess } from '../support/cloud.js';
import { pairingUri, testEdge } from '../support/edge.js';

const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const usable = (() => {
  try {
    return (
      existsSync(LIBFAKETIME) &&
      execFileSync('faketime', ['-f', '@1970-01-02 00:00:00', 'date', '+%Y'], { encoding: 'utf8' }).trim() === '1970'
    );
  } catch {
    return false;
  }
})();
if (!usable)
  process.stdout.write(`clock-jump test skipped: libfaketime not found at ${LIBFAKETIME} (apt-get install faketime)\n`);

const thisYear = new Date().getUTCFullYear();
const year = (iso: unknown) => new Date(String(iso)).getUTCFullYear();

describe.skipIf(!usable)('a clock corrected after pairing at 1970', () => {
  let cloud: CloudProcess;
  beforeAll(async () => {
    cloud = await startCloudProcess();
  });
  afterAll(async () => {
    await cloud?.child.kill('SIGKILL');
  });

  it('drops the stale offset when the clock steps, with the cloud down, and after a restart', async () => {
    const edge = await testEdge(cloud, 'node', 'clock-jump');
    const spec = join(tempDir(), 'faketime');
    writeFileSync(spec, '@1970-01-02 00:00:00\n');
    const wrap = [
      'env',
      `LD_PRELOAD=${LIBFAKETIME}`,
      `FAKETIME_TIMESTAMP_FILE=${spec}`,
      'FAKETIME_CACHE_DURATION=1',
      'FAKETIME_DONT_FAKE_MONOTONIC=1',
    ];
    const paired = await edge.cli(
      ['pair', '--uri', await pairingUri(cloud, edge.siteId, edge.edgeId), '--edge-id', edge.edgeId, '--json'],
      wrap,
    );
    expect(paired.code, paired.stderr).toBe(0);
    const run = edge.run(wrap);
    await run.waitForLine((l) => l.event === 'state' && l.state === 'online', 30_000);

    await cloud.child.kill('SIGKILL');
    writeFileSync(spec, '+0\n'); // NTP arrives: the local clock is now right
    await new Promise((r) => setTimeout(r, 2_500)); // libfaketime re-reads the file each second
    const refreshesBefore = run.stderr.filter((l) => l.includes('"token_refresh_started"')).length;
    // A reconnect stamps "connected since" with the corrected clock.
    expect((await edge.site.api('POST', '/faults/drop', { edgeId: edge.edgeId })).status).toBe(200);
    const status = await waitFor(
      async () => {
        const s = await edge.status();
        return s.state === 'online' && s.connectedSince && Date.parse(s.connectedSince) > Date.now() - 60_000
          ? s
          : year(s.connectedSince) > thisYear + 1
            ? s // the bug: fail below with the value
            : null;
      },
      { timeoutMs: 30_000, what: 'online again after the drop' },
    );
    expect(year(status.connectedSince)).toBe(thisYear);
    expect(status.tokenExpired).toBe(false);
    expect(Math.abs(status.clockSkewMs)).toBeLessThan(60_000);
    await new Promise((r) => setTimeout(r, 6_000));
    expect(run.stderr.filter((l) => l.includes('"token_refresh_started"')).length).toBe(refreshesBefore);

    // A restart on the corrected clock (same boot) agrees.
    await run.kill('SIGTERM');
    const again = edge.run();
    await again.waitForLine((l) => l.event === 'state' && l.state === 'online', 30_000);
    const after = await edge.status();
    expect(year(after.connectedSince)).toBe(thisYear);
    expect(after.tokenExpired).toBe(false);
    expect(again.stderr.some((l) => l.includes('"token_refresh_started"'))).toBe(false);
    await again.kill('SIGTERM');
  }, 150_000);
});
