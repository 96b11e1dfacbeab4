/** A secret file named on the root CLI: a regular file of bounded size, never through a link, never a FIFO. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSecretFile } from '../../../src/common/secret-file/secret-file.js';

describe('readSecretFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cst-secret-'));
  const file = join(dir, 'uri');
  writeFileSync(file, '  consystence-edge://pair?code=x \n', { mode: 0o600 });

  it('reads a regular file, trimmed', () => {
    expect(readSecretFile(file, '--uri-file')).toBe('consystence-edge://pair?code=x');
  });

  it('refuses a symbolic link, a FIFO (without blocking), a device and an oversized file', () => {
    symlinkSync(file, join(dir, 'link'));
    expect(() => readSecretFile(join(dir, 'link'), '--uri-file')).toThrow(/is a symbolic link/);
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    expect(() => readSecretFile(join(dir, 'fifo'), '--uri-file')).toThrow(/not a regular file/);
    expect(() => readSecretFile('/dev/zero', '--uri-file')).toThrow(/not a regular file/);
    writeFileSync(join(dir, 'big'), 'x'.repeat(5000));
    expect(() => readSecretFile(join(dir, 'big'), '--uri-file')).toThrow(/larger than 4096 bytes/);
    expect(() => readSecretFile(join(dir, 'missing'), '--uri-file')).toThrow(/cannot read --uri-file .* \(ENOENT\)/);
  });
});
