/**
 * The `remote` target through a command template that runs this checkout's edge on this machine, as an ssh
 * template would run it on an Orin: telemetry reaches the device only through `consystence-edge produce` in the
 * template (never the producer API directly), so `broker-down` and `power-cut` prove the whole path: the rig
 * reads the port from `run`'s started line, `produce --count` commits the series, the site server gets every seq.
 * `--power-cycle-cmd true` plus the target's SIGKILL of the template process is the power cut here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runToEnd } from '../../helpers/process.js';
import { tempDir } from '../../helpers/tmp.js';

const TEMPLATE = `${process.execPath} --import tsx ${join(ROOT, 'src/edge/main.ts')} {args}`;

interface Summary {
  ok: boolean;
  scenarios: Array<{ id: string; result: string; message?: string; figures: Record<string, unknown> }>;
}

async function hilRemote(extra: string[]): Promise<{ code: number | null; output: string; summary: Summary }> {
  const dir = tempDir('cst-hil-remote-');
  const json = join(dir, 'summary.json');
  const result = await runToEnd(
    process.execPath,
    [
      'src/hil/bin.mjs',
      'run',
      '--target',
      'remote',
      '--remote-cmd',
      TEMPLATE,
      '--remote-state-dir',
      join(dir, 'device'),
      '--json',
      json,
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
