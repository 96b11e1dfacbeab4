/** The job state machine and the pre-checks as pure functions: every step the issue names, and what is refused. */
import { describe, expect, it } from 'vitest';
import { canMove, isBeforeInstall, isFinal } from '../../../src/edge/update/job-states.js';
import { checkManifestFits, checkSpace, machineArch, UpdateRefused } from '../../../src/edge/update/prechecks.js';
import { UpdateJobStates } from '../../../src/protocol/updates.js';
import { runtimeManifest } from '../../helpers/release.js';

describe('job state machine', () => {
  it('has the path of the issue, offline installs and restart-free installers', () => {
    const path = ['offered', 'downloading', 'downloaded', 'verified', 'installing', 'restarting', 'trial', 'succeeded'];
    for (let i = 1; i < path.length; i++) expect(canMove(path[i - 1] as never, path[i] as never)).toBe(true);
    expect(canMove('offered', 'downloaded')).toBe(true);
    expect(canMove('installing', 'succeeded')).toBe(true);
    expect(canMove('trial', 'rolled-back')).toBe(true);
  });

  it('never leaves a final state, never skips the verification, cancels only before installing', () => {
    for (const final of UpdateJobStates.filter(isFinal))
      for (const to of UpdateJobStates) expect(canMove(final, to)).toBe(false);
    expect(canMove('downloading', 'installing')).toBe(false);
    expect(canMove('downloaded', 'installing')).toBe(false);
    expect(canMove('installing', 'cancelled')).toBe(false);
    expect(canMove('verified', 'cancelled')).toBe(true);
    expect(UpdateJobStates.filter(isBeforeInstall)).toEqual(['offered', 'downloading', 'downloaded', 'verified']);
  });
});

describe('pre-checks', () => {
  const manifest = runtimeManifest(Buffer.from('x'), { version: '2.0.0', arch: 'arm64' });
  const refusal = (fn: () => void) => {
    try {
      fn();
    } catch (error) {
      return error instanceof UpdateRefused ? error.code : String(error);
    }
    return 'accepted';
  };

  it('maps the machine to a release arch', () => {
    expect(machineArch('x64')).toBe('x64');
    expect(machineArch('arm64')).toBe('arm64');
    expect(machineArch('ia32')).toBeNull();
  });

  it('refuses another arch and a downgrade unless allowed', () => {
    const fits = (arch: 'x64' | 'arm64', runningVersion: string, allowDowngrade = false) =>
      refusal(() => checkManifestFits(manifest, { arch, runningVersion, allowDowngrade }));
    expect(fits('arm64', '1.9.9')).toBe('accepted');
    expect(fits('x64', '1.9.9')).toBe('WRONG_ARCH');
    expect(fits('arm64', '2.0.0')).toBe('DOWNGRADE');
    expect(fits('arm64', '2.0.1')).toBe('DOWNGRADE');
    expect(fits('arm64', '2.0.1', true)).toBe('accepted');
    expect(fits('arm64', '2.0.0-rc.1')).toBe('accepted');
  });

  it('needs the bytes plus a margin of 64 MiB or 10 %', () => {
    const space = (free: number) => () => ({ free, total: 2 ** 40 });
    const MiB = 2 ** 20;
    expect(refusal(() => checkSpace('/', 10 * MiB, space(74 * MiB)))).toBe('accepted');
    expect(refusal(() => checkSpace('/', 10 * MiB, space(73 * MiB)))).toBe('INSUFFICIENT_SPACE');
    expect(refusal(() => checkSpace('/', 1000 * MiB, space(1100 * MiB)))).toBe('accepted');
    expect(refusal(() => checkSpace('/', 1000 * MiB, space(1099 * MiB)))).toBe('INSUFFICIENT_SPACE');
  });
});
