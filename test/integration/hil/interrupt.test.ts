/**
 * Ctrl-C during `consystence-hil run`, as a real child process against the local Node target: SIGINT while
 * `broker-down` runs stops the device, removes the scenario's work dir, writes JUnit and JSON (the running
 * scenario an `<error>` "stopped by SIGINT", the rest skipped with that reason) and exits 130. The child gets
 * its own TMPDIR, so its work dirs and its device (whose `--state-dir` lies under it) are found without
 * confusing them with another run's. SIGTERM during `network-partition` also deletes the device's namespace
 * (named in the report's notes) and exits 143.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { netnsUnavailable } from '../../../src/hil/net/netns.js';
import { startProcess } from '../../helpers/process.js';
import { tempDir } from '../../helpers/tmp.js';

/** PIDs of live processes whose command line mentions `text`. */
function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) found.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('consystence-hil run stopped by a signal', () => {
  it('SIGINT mid-scenario: device stopped, work dir removed, reports written, exit 130', async () => {
    const dir = tempDir('cst-hil-int-');
    const childTmp = join(dir, 'tmp');
    const junit = join(dir, 'junit.xml');
    const json = join(dir, 'summary.json');
    mkdirSync(childTmp);
    const child = startProcess(
      process.execPath,
      ['src/hil/bin.mjs', 'run', '--only', 'broker-down,power-cut', '--junit', junit, '--json', json],
      { env: { TMPDIR: childTmp } },
    );
    const output = () => child.stderr.join('\n');
    // The scenario has started and its device runs (its state dir is under the child's TMPDIR).
    await until(() => output().includes('....  broker-down'), 120_000, 'broker-down to start');
    await until(() => processesMentioning(childTmp).length > 0, 60_000, 'the device to run');

    child.proc.kill('SIGINT');
    const exit = await Promise.race([
      child.exited,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no exit:\n${output()}`)), 120_000)),
    ]);
    expect(exit.code, output()).toBe(130);

    const xml = readFileSync(junit, 'utf8');
    expect(xml).toMatch(/<testcase name="broker-down"[^>]*>\s*<error message="stopped by SIGINT"/);
    expect(xml).toMatch(/<testcase name="power-cut"[^>]*>\s*<skipped message="not run: stopped by SIGINT"/);
    const summary = JSON.parse(readFileSync(json, 'utf8')) as {
      ok: boolean;
      scenarios: Array<{ id: string; result: string; message?: string }>;
    };
    expect(summary.ok).toBe(false);
    expect(summary.scenarios.map((s) => [s.id, s.result, s.message])).toEqual([
      ['broker-down', 'error', 'stopped by SIGINT'],
      ['power-cut', 'skipped', 'not run: stopped by SIGINT'],
    ]);
    expect(readdirSync(childTmp).filter((f) => f.startsWith('cst-hil-'))).toEqual([]);
    await until(() => processesMentioning(childTmp).length === 0, 10_000, 'no process left under the run');
  }, 300_000);

  it('SIGTERM in a namespaced scenario: the namespace is deleted and the run exits 143', async (ctx) => {
    const why = netnsUnavailable();
    if (why) {
      console.log(`skipped: ${why}`);
      ctx.skip();
    }
    const dir = tempDir('cst-hil-term-');
    const childTmp = join(dir, 'tmp');
    const junit = join(dir, 'junit.xml');
    mkdirSync(childTmp);
    const child = startProcess(
      process.execPath,
      ['src/hil/bin.mjs', 'run', '--only', 'network-partition', '--junit', junit],
      {
        env: { TMPDIR: childTmp },
      },
    );
    const output = () => child.stderr.join('\n');
    await until(() => output().includes('....  network-partition'), 120_000, 'network-partition to start');
    await until(() => processesMentioning(childTmp).length > 0, 60_000, 'the device to run in its namespace');
    child.proc.kill('SIGTERM');
    const exit = await Promise.race([
      child.exited,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no exit:\n${output()}`)), 120_000)),
    ]);
    expect(exit.code, output()).toBe(143);
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toMatch(/<testcase name="network-partition"[^>]*>\s*<error message="stopped by SIGTERM"/);
    const namespace = /device in namespace (\S+)/.exec(xml)?.[1];
    expect(namespace, xml).toBeDefined();
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(namespace);
  }, 300_000);
});
