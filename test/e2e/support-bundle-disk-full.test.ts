/**
 * `support-bundle --out` on a disk that fills up (a real 64 KiB tmpfs, the real CLI as a child process): a bundle
 * cut short must not be reported as written, no partial or empty file may stay behind, and a retry with the same
 * --out must work once there is space. Needs root (mount); skipped with the reason otherwise.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOG_FILE } from '../../src/edge/diagnostics/log-file.js';
import { commandFor, runToEnd } from '../helpers/process.js';
import { tempDir } from '../helpers/tmp.js';

function mountSmallTmpfs(dir: string): string | null {
  if (process.getuid?.() !== 0) return 'not root: cannot mount a small tmpfs';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', dir], { stdio: 'pipe' });
    return null;
  } catch (error) {
    return `mount -t tmpfs failed: ${(error as Error).message.split('\n')[0]}`;
  }
}

/** Writes filler until the disk refuses, leaving `leaveBytes` free (rounded to pages by tmpfs). */
function fill(dir: string, leaveBytes: number): void {
  const free = Number(execFileSync('df', ['--output=avail', '-B1', dir]).toString().trim().split('\n')[1]);
  const size = Math.max(0, free - leaveBytes);
  try {
    writeFileSync(join(dir, 'filler'), Buffer.alloc(size));
  } catch {
    // Full already: that is the point.
  }
}

const disk = tempDir('cst-diskfull-');
const skipReason = mountSmallTmpfs(disk);
if (skipReason) console.log(`support-bundle disk-full test skipped: ${skipReason}`);

describe.skipIf(skipReason !== null)('support-bundle on a full disk', () => {
  const stateDir = tempDir('cst-diskfull-state-');
  const out = join(disk, 'bundle.tar.gz');
  const bundle = () => {
    const { command, args } = commandFor('node', 'src/edge/main.ts');
    return runToEnd(command, [...args, 'support-bundle', '--state-dir', stateDir, '--out', out, '--json'], {
      timeoutMs: 60_000,
    });
  };
  beforeAll(() => {
    // 24 KiB of log lines that do not compress, so the bundle is larger than what is left on the disk.
    const lines = Array.from({ length: 300 }, () => `${randomBytes(40).toString('hex')}\n`).join('');
    writeFileSync(join(stateDir, LOG_FILE), lines, { mode: 0o600 });
  });
  afterAll(() => {
    execFileSync('umount', [disk]);
    rmSync(disk, { recursive: true, force: true });
  });

  it('with no space at all: fails, says the disk is full, leaves no empty file', async () => {
    fill(disk, 0);
    const result = await bundle();
    expect(result.stderr).toContain('the disk is full: free space in');
    expect(result.code).not.toBe(0);
    expect(result.stdout).toBe('');
    expect(existsSync(out), 'a file was left behind').toBe(false);
  });

  it('cut short part way: fails, reports no size or sha256, and removes the partial file', async () => {
    rmSync(join(disk, 'filler'), { force: true });
    fill(disk, 8 * 1024);
    const result = await bundle();
    expect(result.stderr).toContain('the disk is full');
    expect(result.code).not.toBe(0);
    expect(result.stdout).not.toContain('sha256');
    expect(existsSync(out), 'a partial bundle was left behind').toBe(false);
  });

  it('a retry with the same --out works once there is space', async () => {
    rmSync(join(disk, 'filler'), { force: true });
    const result = await bundle();
    expect(result.code, result.stderr).toBe(0);
    expect(existsSync(out)).toBe(true);
    execFileSync('tar', ['-tzf', out]);
  });
});
