/**
 * Clock far in the past (a board without RTC at 1970) and far in the future (+3 years), faked for the edge
 * process only with libfaketime: pairing still succeeds because assertion times and token checks use the cloud's
 * time, the session connects, and `status` and `doctor` show the skew.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../helpers/process.js';
import { startCloudProcess, type CloudProcess } from '../support/cloud.js';
import { fakeClock, testEdge } from '../support/edge.js';

const YEAR_MS = 365 * 86_400_000;
const faketimeWorks = (() => {
  try {
    return (
      execFileSync('faketime', ['-f', '@1970-01-02 00:00:00', 'date', '+%Y'], { encoding: 'utf8' }).trim() === '1970'
    );
  } catch {
    return false;
  }
})();
if (!faketimeWorks)
  process.stdout.write(
    'clock tests skipped: libfaketime is not installed (apt-get install faketime; .ci/run installs it)\n',
  );

const cases: Array<{ runtime: Runtime; label: string; spec: string; skew: (ms: number) => boolean }> = [
  { runtime: 'bun', label: 'clock-1970', spec: '@1970-01-02 00:00:00', skew: (ms) => ms > 50 * YEAR_MS },
  { runtime: 'node', label: 'clock-future', spec: '+1095d', skew: (ms) => ms < -2.9 * YEAR_MS && ms > -3.1 * YEAR_MS },
];

describe.skipIf(!faketimeWorks).each(cases)(
  'edge under a clock at $spec ($runtime)',
  ({ runtime, label, spec, skew }) => {
    let cloud: CloudProcess;
    beforeAll(async () => {
      cloud = await startCloudProcess();
    });
    afterAll(async () => {
      await cloud?.child.kill('SIGKILL');
    });

    it('pairs, connects, and shows the skew in status and doctor', async () => {
      const edge = await testEdge(cloud, runtime, label);
      const wrap = fakeClock(spec);
      const paired = await edge.pair(wrap);
      expect(paired.code, paired.stderr).toBe(0);

      const child = edge.run(wrap);
      await child.waitForLine((l) => l.event === 'state' && l.state === 'online', 30_000);
      await edge.site.waitForPresence(edge.edgeId, (p) => p.state === 'online');

      const status = await edge.status(wrap);
      expect(status).toMatchObject({ state: 'online', tokenExpired: false });
      expect(skew(status.clockSkewMs), `clockSkewMs ${status.clockSkewMs}`).toBe(true);
      const text = await edge.cli(['status'], wrap);
      expect(text.stdout).toMatch(/clock: .*(behind|ahead of) the cloud \(the local clock is wrong/);

      const doctor = await edge.cli(['doctor', '--json'], wrap);
      const { checks } = JSON.parse(doctor.stdout) as {
        checks: Array<{ name: string; level: string; detail: string }>;
      };
      // One clock row, measured against the cloud's Date: a wrong clock is corrected for tokens, so a WARN.
      expect(checks.filter((c) => c.name === 'clock')).toEqual([
        expect.objectContaining({
          level: 'warn',
          detail: expect.stringMatching(/(behind|ahead of) the cloud \(measured now\)/),
        }),
      ]);
      expect(checks.find((c) => c.name === 'token')).toMatchObject({ level: 'ok' });
      await child.kill('SIGTERM');
    }, 60_000);
  },
);
