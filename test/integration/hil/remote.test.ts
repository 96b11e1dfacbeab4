/**
 * The `remote` target through a command template that runs this checkout's edge on this machine, as an ssh
 * template would run it on an Orin: telemetry reaches the device only through `consystence-edge produce` in the
 * template (never the producer API directly), so `broker-down` and `power-cut` prove the whole path: the rig
 * reads the port from `run`'s started line, `produce --count` commits the series, the site server gets every seq.
 * `--power-cycle-cmd true` plus the target's SIGKILL of the template process is the power cut here.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runToEnd } from '../../helpers/process.js';
import { tempDir } from '../../helpers/tmp.js';

const TEMPLATE = `${process.execPath} --import tsx ${join(ROOT, 'src/edge/main.ts')} {args}`;

interface Summary {
  ok: boolean;
  scenarios: Array<{
    id: string;
    result: string;
    message?: string;
    errorType?: string;
    figures: Record<string, unknown>;
  }>;
}

async function hilRemote(
  extra: string[],
  template = TEMPLATE,
): Promise<{ code: number | null; output: string; summary: Summary; junit: string }> {
  const dir = tempDir('cst-hil-remote-');
  const json = join(dir, 'summary.json');
  const junit = join(dir, 'junit.xml');
  const result = await runToEnd(
    process.execPath,
    [
      'src/hil/bin.mjs',
      'run',
      '--target',
      'remote',
      '--remote-cmd',
      template,
      '--remote-state-dir',
      join(dir, 'device'),
      '--json',
      json,
      '--junit',
      junit,
      '--timeout-s',
      '400',
      ...extra,
    ],
    { timeoutMs: 420_000 },
  );
  return {
    code: result.code,
    output: `${result.stdout}\n${result.stderr}`,
    summary: JSON.parse(readFileSync(json, 'utf8')) as Summary,
    junit: readFileSync(junit, 'utf8'),
  };
}

describe('consystence-hil run --target remote', () => {
  it('broker-down and power-cut pass with telemetry produced through the template', async () => {
    const { code, output, summary } = await hilRemote(['--only', 'broker-down,power-cut', '--power-cycle-cmd', 'true']);
    expect(code, output).toBe(0);
    const byId = Object.fromEntries(summary.scenarios.map((s) => [s.id, s]));
    expect(byId['broker-down']).toMatchObject({
      result: 'passed',
      figures: { bufferedMessages: 50, queueDepthWhileDown: 50, missing: 0 },
    });
    // 20 before the outage + 50 during, one envelope per record: every one produced through the template arrived.
    expect(byId['broker-down']!.figures.lastSeq).toBeGreaterThanOrEqual(70);
    expect(byId['power-cut']).toMatchObject({ result: 'passed', figures: { backlog: expect.any(Number), missing: 0 } });
    expect(byId['power-cut']!.figures.backlog).toBeGreaterThanOrEqual(300);
  }, 440_000);

  it('a template that cannot start the device writes an <error> report and exits 3', async () => {
    const { code, output, summary, junit } = await hilRemote(['--only', 'first-pairing'], 'no-such-command-cst {args}');
    expect(code, output).toBe(3);
    expect(summary.scenarios).toEqual([
      expect.objectContaining({ id: 'device-start', result: 'error', errorType: 'RigFault' }),
    ]);
    expect(junit).toMatch(/<testcase name="device-start"[^>]*>\s*<error message="the device cannot start/);
    expect(junit).toContain('errors="1"');
  }, 440_000);

  it('exit 127 from the template mid-run and a failing hook are <error>s (rig faults), not <failure>s', async () => {
    // `version` reaches the device; every other command "is not found", as with a typo in a template's path.
    const wrapper = join(tempDir('cst-hil-wrapper-'), 'edge.sh');
    writeFileSync(
      wrapper,
      `#!/bin/sh\n[ "$1" = version ] && exec ${process.execPath} --import tsx ${join(ROOT, 'src/edge/main.ts')} "$@"\nexit 127\n`,
      { mode: 0o755 },
    );
    const broken = await hilRemote(['--only', 'first-pairing'], `${wrapper} {args}`);
    expect(broken.code, broken.output).toBe(1);
    expect(broken.summary.scenarios[0]).toMatchObject({ id: 'first-pairing', result: 'error', errorType: 'RigFault' });
    expect(broken.junit).toMatch(/<error message="the command template could not run its command \(exit 127\)/);
    expect(broken.junit).not.toContain('<failure');
    expect(broken.junit).toMatch(/<property name="device.version" value="[^"]+"\/>/);

    const hook = await hilRemote(['--only', 'power-cut', '--power-cycle-cmd', 'false']);
    expect(hook.code, hook.output).toBe(1);
    expect(hook.summary.scenarios[0]).toMatchObject({
      id: 'power-cut',
      result: 'error',
      errorType: 'RigFault',
      message: expect.stringMatching(/power-cycle hook failed/),
    });
  }, 880_000);

  it('power-cut is skipped with the reason when the rig cannot cut power', async () => {
    const { code, output, summary } = await hilRemote(['--only', 'power-cut']);
    expect(code, output).toBe(0);
    expect(summary.scenarios[0]).toMatchObject({
      id: 'power-cut',
      result: 'skipped',
      message: expect.stringMatching(/--power-cycle-cmd/),
    });
  }, 440_000);
});
