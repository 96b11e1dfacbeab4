/**
 * Power cuts during an install: a real `update install --file` process SIGKILLed at random moments after it
 * starts installing (unpack, snapshot, trial record, link swaps), several times over. After every cut the device
 * could boot: `releases/current` is absent (the packaged binary runs) or names a folder whose binary is whole, and
 * no half-written file has the binary's name. Running the same install again always finishes it.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { machineArch } from '../../../src/edge/update/prechecks.js';
import { writeTestBundle, type TestReleaseKey } from '../../helpers/release.js';
import { commandFor, ROOT, runToEnd, startProcess } from '../../helpers/process.js';
import { tempDir, testHardwareId } from '../../helpers/tmp.js';
import { runtimeRelease } from '../../helpers/update-engine.js';
import { waitFor } from '../../helpers/wait.js';

const TRIALS = Number(process.env.UPDATE_POWER_CUT_TRIALS ?? 6);

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
      // Cut somewhere inside the install: after it reports `installing`, at a random moment of the next 1.5 s.
      await waitFor(
        () => child.stderr.some((l) => l.includes('"state":"installing"')) || child.proc.exitCode !== null,
        { timeoutMs: 60_000, intervalMs: 5, what: 'the install to start' },
      );
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 1500)));
      const { signal } = await child.kill('SIGKILL');
      outcomes.push(`${signal ?? 'finished'}→${bootable()}`);
      const folder = join(stateDir, 'releases', '99.0.0');
      if (existsSync(folder)) expect(readdirSync(folder)).not.toContain('consystence-edge.tmp');
      const finished = await runToEnd(command, argv, { env });
      expect(finished.code).toBe(0);
      expect(bootable()).toBe('99.0.0');
      expect(readFileSync(join(stateDir, 'update/trial'), 'utf8')).toContain('version=99.0.0');
    }
    process.stdout.write(`update install power cuts: ${outcomes.join(', ')}\n`);
    // The cuts must have landed: at least one process was killed, not finished.
    expect(outcomes.some((o) => o.startsWith('SIGKILL'))).toBe(true);
  }, 600_000);
});
