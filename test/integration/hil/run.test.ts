/**
 * `consystence-hil run` as a child process against the local Node target: a passing subset writes JUnit and
 * JSON and exits 0; a run with a failure injected exits 1 and reports the failure with diagnostics (the device's
 * support bundle among them); bad
 * selections exit 2; `--list` names every scenario.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unpackTarGz } from '../../../src/common/tar/ustar.js';
import { runToEnd } from '../../helpers/process.js';
import { tempDir } from '../../helpers/tmp.js';

const HIL = ['src/hil/bin.mjs'];
const hil = (args: string[], timeoutMs = 240_000) => runToEnd(process.execPath, [...HIL, ...args], { timeoutMs });

describe('consystence-hil run', () => {
  it('passes a subset against local Node and writes JUnit and JSON', async () => {
    const dir = tempDir('cst-hil-it-');
    const junit = join(dir, 'reports/junit.xml');
    const json = join(dir, 'summary.json');
    const result = await hil([
      'run',
      '--target',
      'local-node',
      '--only',
      'first-pairing,used-code,command-round-trip',
      '--junit',
      junit,
      '--json',
      json,
      '--timeout-s',
      '200',
    ]);
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toMatch(/<testsuite name="consystence-hil.local-node" tests="3" failures="0" errors="0" skipped="0"/);
    for (const id of ['first-pairing', 'used-code', 'command-round-trip'])
      expect(xml).toContain(`<testcase name="${id}"`);
    const summary = JSON.parse(readFileSync(json, 'utf8')) as {
      ok: boolean;
      scenarios: Array<{ id: string; result: string; figures: Record<string, unknown> }>;
    };
    expect(summary.ok).toBe(true);
    const first = summary.scenarios.find((s) => s.id === 'first-pairing')!;
    expect(first.result).toBe('passed');
    expect(first.figures.timeToOnlineMs).toEqual(expect.any(Number));
  }, 240_000); // as long as hil() lets the child run: three scenarios plus identifying the device, on a shared machine

  it('reports a failing scenario in JUnit and exits non-zero', async () => {
    const dir = tempDir('cst-hil-it-');
    const junit = join(dir, 'junit.xml');
    const json = join(dir, 'summary.json');
    const result = await hil([
      'run',
      '--only',
      'first-pairing,expired-code',
      '--inject-failure',
      'first-pairing',
      '--junit',
      junit,
      '--json',
      json,
    ]);
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(1);
    expect(result.stderr).toContain('FAIL  first-pairing');
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toMatch(/tests="2" failures="1" errors="0"/);
    expect(xml).toMatch(
      /<testcase name="first-pairing"[^>]*>\s*<failure message="failure injected by --inject-failure/,
    );
    expect(xml).toContain('<system-err>');
    const summary = JSON.parse(readFileSync(json, 'utf8')) as {
      ok: boolean;
      scenarios: Array<{ id: string; result: string; diagnostics?: Record<string, string> }>;
    };
    expect(summary.ok).toBe(false);
    const failed = summary.scenarios.find((s) => s.id === 'first-pairing')!;
    expect(failed.result).toBe('failed');
    expect(Object.keys(failed.diagnostics ?? {})).toEqual(
      expect.arrayContaining(['device.status', 'site-server.edges', 'mocks.log']),
    );
    expect(summary.scenarios.find((s) => s.id === 'expired-code')!.result).toBe('passed');
  });

  it("attaches a failed scenario's support bundle, pulled from the running device, to the JUnit report", async () => {
    const dir = tempDir('cst-hil-it-');
    const junit = join(dir, 'junit.xml');
    const result = await hil([
      'run',
      '--only',
      'command-round-trip',
      '--inject-failure',
      'command-round-trip',
      '--junit',
      junit,
    ]);
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(1);
    const xml = readFileSync(junit, 'utf8');
    const file = /===== support-bundle\n(\S+\.tar\.gz)/.exec(xml)?.[1];
    expect(file, xml.slice(-2000)).toBeDefined();
    expect(file!.startsWith(dir)).toBe(true);
    const files = unpackTarGz(readFileSync(file!));
    const status = JSON.parse(files.get('consystence-edge-support/status.json')!.toString('utf8'));
    expect(status.edgeId).toMatch(/^hil-command-round-trip-/);
  });

  it('exits 2 for an unknown scenario and for bad flags', async () => {
    const unknown = await hil(['run', '--only', 'no-such-scenario'], 60_000);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown scenario no-such-scenario/);
    const bad = await hil(['run', '--repeat', '0'], 60_000);
    expect(bad.code).toBe(2);
  });

  it('lists every scenario', async () => {
    const result = await hil(['run', '--list'], 60_000);
    expect(result.code).toBe(0);
    for (const id of [
      'first-pairing',
      'used-code',
      'expired-code',
      'lost-register-response',
      'cloud-503-storm',
      'broker-down',
      'network-partition',
      'power-cut',
      'token-expiry-offline',
      'revocation',
      'config-push',
      'command-round-trip',
      'clock-in-past',
      'diagnostics',
      'ota-update',
      'ota-wrong-arch',
      'ota-interrupted-download',
      'ota-rollback',
      'ota-bad-signature',
      'ota-power-cut',
      'ota-disk-full',
    ]) {
      expect(result.stdout).toContain(id);
    }
  });
});
