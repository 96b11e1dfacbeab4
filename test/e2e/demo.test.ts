/**
 * The README's main command, as a user runs it: `npm run demo` must pair an edge, bring it online and show
 * telemetry reaching the site server, then stop cleanly on its own.
 */
import { describe, expect, it } from 'vitest';
import { runToEnd } from '../helpers/process.js';

describe('npm run demo', () => {
  it('pairs, connects and streams data, then stops cleanly', async () => {
    const { code, stdout, stderr } = await runToEnd('npm', ['run', '--silent', 'demo', '--', '--seconds', '8'], {
      timeoutMs: 90_000,
    });
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/demo-edge-1 paired/);
    expect(stdout).toMatch(/pushed config v1 .*: applied/);
    const data = [...stdout.matchAll(/demo-edge-1: online, site server got \d+ msgs \((\d+) data\)/g)].map((m) =>
      Number(m[1]),
    );
    expect(Math.max(0, ...data)).toBeGreaterThan(0);
    expect(stdout).toMatch(/• stopped/);
    // The pairing code itself is never printed in full.
    expect(stdout).not.toMatch(/code=[0-9A-Z]{4}-[0-9A-Z]{4}/);
  });
});
