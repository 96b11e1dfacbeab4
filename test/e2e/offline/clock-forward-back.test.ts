/**
 * Outside test, item 2: the clock steps 40 days forward (a proactive token refresh measures the cloud's time while
 * the local clock is wrong) and back. libfaketime fakes CLOCK_MONOTONIC as well as the wall clock (as the tester ran
 * it), so only the kernel's uptime still tells a step from elapsed time. Corrected time must stay the real time.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
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
      existsSync('/proc/uptime') &&
      execFileSync('faketime', ['-f', '@1970-01-02 00:00:00', 'date', '+%Y'], { encoding: 'utf8' }).trim() === '1970'
    );
  } catch {
    return false;
  }
})();
if (!usable)
  process.stdout.write(
    `clock-forward-back test skipped: needs libfaketime at ${LIBFAKETIME} and /proc/uptime (Linux)\n`,
  );

const DAY_MS = 86_400_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!usable)('a clock stepped 40 days forward and back', () => {
  let cloud: CloudProcess;
  beforeAll(async () => {
    cloud = await startCloudProcess();
  });
  afterAll(async () => {
    await cloud?.child.kill('SIGKILL');
  });

  it('keeps corrected time on the real time, while running and after a restart', async () => {
    const edge = await testEdge(cloud, 'node', 'clock-forward-back');
    const spec = join(tempDir(), 'faketime');
    writeFileSync(spec, '+0\n');
    // No FAKETIME_DONT_FAKE_MONOTONIC: the monotonic clock jumps with the wall clock, as in the tester's run.
    const wrap = ['env', `LD_PRELOAD=${LIBFAKETIME}`, `FAKETIME_TIMESTAMP_FILE=${spec}`, 'FAKETIME_NO_CACHE=1'];
    const paired = await edge.cli(
      ['pair', '--uri', await pairingUri(cloud, edge.siteId, edge.edgeId), '--edge-id', edge.edgeId, '--json'],
      wrap,
    );
    expect(paired.code, paired.stderr).toBe(0);
    const run = edge.run(wrap);
    await run.waitForLine((l) => l.event === 'state' && l.state === 'online', 30_000);

    const pushed = await edge.site.api('POST', `/edges/${edge.edgeId}/config`, {
      config: { heartbeatSeconds: 5 },
      wait: true,
    });
    expect(pushed.status).toBe(200);
    type Heartbeat = { clockSkewMs: number; uptimeS: number };
    const heartbeat = async () =>
      ((await edge.site.edge(edge.edgeId)) as { lastHeartbeat: Heartbeat | null } | null)?.lastHeartbeat;

    const refreshed = () => run.stderr.filter((l) => l.includes('"token_refreshed"')).length;
    const before = refreshed();
    writeFileSync(spec, '+40d\n');
    // The faked monotonic clock fires the refresh timer at once: the cloud's time is measured 40 days "behind".
    await waitFor(() => refreshed() > before || null, { timeoutMs: 30_000, what: 'a refresh at +40d' });
    // The heartbeat tells the site the local clock is 40 days ahead of the cloud, and how long the process has run.
    const ahead = await waitFor(
      async () => {
        const hb = await heartbeat();
        return hb && hb.clockSkewMs < -39 * DAY_MS ? hb : null;
      },
      { timeoutMs: 30_000, what: 'a heartbeat with the 40-day skew' },
    );
    expect(ahead.uptimeS).toBeLessThan(3_600);
    writeFileSync(spec, '+0\n');
    await sleep(2_000);

    // A reconnect writes the daemon's state, stamped with the running process's corrected clock.
    const dropped = Date.now();
    expect((await edge.site.api('POST', '/faults/drop', { edgeId: edge.edgeId })).status).toBe(200);
    const stamped = await waitFor(
      async () => {
        const at = Date.parse((await edge.status()).daemon?.updatedAt ?? '');
        return at > dropped - 5_000 || at < dropped - DAY_MS ? at : null; // the bug: fail below with the value
      },
      { timeoutMs: 30_000, what: 'the state written after the drop' },
    );
    expect(new Date(stamped).toISOString().slice(0, 10)).toBe(new Date().toISOString().slice(0, 10));
    expect(Math.abs((await edge.status()).clockSkewMs)).toBeLessThan(60_000);

    // A restart on the right clock agrees.
    await run.kill('SIGTERM');
    const again = edge.run();
    await again.waitForLine((l) => l.event === 'state' && l.state === 'online', 30_000);
    const after = await edge.status();
    expect(after.state).toBe('online');
    expect(Math.abs(Date.parse(after.connectedSince) - Date.now())).toBeLessThan(90_000);
    expect(Math.abs(after.clockSkewMs)).toBeLessThan(60_000);
    await again.kill('SIGTERM');
  }, 180_000);

  it("a saved offset measured while the clock was wrong gives way to the cloud's time at the next start", async () => {
    const edge = await testEdge(cloud, 'node', 'clock-stale-offset');
    expect((await edge.pair()).code).toBe(0);
    // The tester's state: an offset of −40 days saved on this boot with an anchor that agrees with the uptime, so
    // no start-up comparison can see it is stale.
    const db = new Database(join(edge.stateDir, 'identity.db'));
    const saved = {
      offsetMs: -40 * DAY_MS,
      localMs: Date.now(),
      bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
      uptimeMs: Math.round(Number.parseFloat(readFileSync('/proc/uptime', 'utf8')) * 1000),
    };
    db.prepare("INSERT OR REPLACE INTO kv (key, value) VALUES ('clock_offset', ?)").run(JSON.stringify(saved));
    db.close();
    expect((await edge.status()).clockSkewMs).toBeLessThan(-39 * DAY_MS);
    // doctor measures the cloud's time, and counts the token's days with that measurement (30 days, not 70).
    const doctor = JSON.parse((await edge.cli(['doctor', '--json'])).stdout);
    const check = (name: string) => doctor.checks.find((c: { name: string }) => c.name === name).detail as string;
    expect(check('clock')).toMatch(/measured now/);
    expect(check('token')).toMatch(/\((29\.\d|30(\.0)?) days left\)/);

    const run = edge.run();
    await run.waitForLine((l) => l.event === 'state' && l.state === 'online', 30_000);
    const skew = await waitFor(
      async () => {
        const s = (await edge.status()).clockSkewMs as number;
        return Math.abs(s) < 60_000 ? s : null;
      },
      { timeoutMs: 30_000, what: 'the offset measured again from the cloud' },
    );
    expect(Math.abs(skew)).toBeLessThan(60_000);
    await run.kill('SIGTERM');
  }, 120_000);
});
