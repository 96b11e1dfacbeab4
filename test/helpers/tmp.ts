/** Fresh temporary folders per test, removed when the test file ends. */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

export function tempDir(prefix = 'cst-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** A test-unique hardware id: /etc/machine-id is the same on every machine of this kind. */
export function testHardwareId(label = String(Math.random())): string {
  return createHash('sha256').update(`${label}:${process.pid}:${Date.now()}:${Math.random()}`).digest('hex');
}
