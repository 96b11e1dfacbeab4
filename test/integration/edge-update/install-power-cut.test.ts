/**
 * Power cuts during an install: a real `update install --file` process SIGKILLed at random moments after it
 * starts installing (unpack, snapshot, trial record, link swaps), several times over. After every cut the device
 * could boot: `releases/current` is absent (the packaged binary runs) or names a folder whose binary is whole, and
 * no half-written file has the binary's name. Running the same install again always finishes it.
 */
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { machineArch } from '../../../src/edge/update/prechecks.js';
import { writeTestBundle, type TestReleaseKey } from '../../helpers/release.js';
import { commandFor, ROOT, runToEnd, startProcess } from '../../helpers/process.js';
import { tempDir, testHardwareId } from '../../helpers/tmp.js';
import { runtimeRelease } from '../../helpers/update-engine.js';
import { waitFor } from '../../helpers/wait.js';

const TRIALS = Number(process.env.UPDATE_POWER_CUT_TRIALS ?? 8);

function devKey(): TestReleaseKey {
  const jwk = JSON.parse(readFileSync(join(ROOT, 'keys/dev/release-signing.private.jwk'), 'utf8'));
  return { private: jwk, trusted: { kid: jwk.kid, jwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } } };
}

describe('update install --file under SIGKILL', () => {
  it(`boots old or new after ${TRIALS} cuts during the install, and the install finishes when repeated`, async () => {
    const release = await runtimeRelease(devKey(), { version: '99.0.0', arch: machineArch() ?? 'x64' }, 32 * 2 ** 20);
    const bundle = await writeTestBundle(tempDir('cst-usb-'), devKey(), release.artifact, release.manifest);
    const { command, args } = commandFor('node', 'src/edge/main.ts');
    const env = { CONSYSTENCE_EDGE_HARDWARE_ID: testHardwareId('update-cut') };
    const outcomes: string[] = [];
    // How long an install takes here (from its `installing` line to its exit): the cuts are spread over it.
    let installMs = 1500;
    for (let trial = 0; trial < TRIALS; trial++) {
      const stateDir = tempDir('cst-update-cut-');
      const argv = [...args, 'update', 'install', '--file', bundle, '--yes', '--state-dir', stateDir];
      const bootable = () => {
        const current = join(stateDir, 'releases/current');
        if (!existsSync(current)) return 'factory';
        const binary = join(stateDir, 'releases', readlinkSync(current), 'consystence-edge');
        expect(readFileSync(binary).equals(release.binary)).toBe(true);
        return readlinkSync(current);
      };
      const child = startProcess(command, argv, { env });
      await waitFor(
        () => child.stderr.some((l) => l.includes('"state":"installing"')) || child.proc.exitCode !== null,
        { timeoutMs: 60_000, intervalMs: 5, what: 'the install to start' },
      );
      const started = performance.now();
      // The first trial measures; the others cut at a random moment of the install, every other one near its end
      // (snapshot, trial record, link swaps: the unpack takes most of the time).
      if (trial === 0) await child.exited;
      else {
        const from = trial % 2 === 0 ? 0.8 : 0;
        await new Promise((r) => setTimeout(r, Math.floor(installMs * (from + Math.random() * (1 - from)))));
      }
      const { signal } = await child.kill('SIGKILL');
      if (trial === 0) installMs = performance.now() - started;
      outcomes.push(`${signal ?? 'finished'}→${bootable()}`);
      // A binary under its real name is whole, even when `current` does not point at it yet.
      const binary = join(stateDir, 'releases', '99.0.0', 'consystence-edge');
      if (existsSync(binary)) expect(readFileSync(binary).equals(release.binary)).toBe(true);
      const finished = await runToEnd(command, argv, { env });
      expect(finished.code, `after ${outcomes.at(-1)}: ${finished.stderr.slice(-2000)}`).toBe(0);
      expect(bootable()).toBe('99.0.0');
      expect(readFileSync(join(stateDir, 'update/trial'), 'utf8')).toContain('version=99.0.0');
    }
    process.stdout.write(`update install power cuts: ${outcomes.join(', ')}\n`);
    // The cuts must have landed: some processes were killed, not finished.
    expect(outcomes.filter((o) => o.startsWith('SIGKILL')).length).toBeGreaterThan(0);
  }, 600_000);
});
