/** Folder snapshots for "nothing was changed" assertions, and real file systems (tmpfs) for disk-full and read-only. */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { tempDir } from './tmp.js';

/** Every entry of a folder: name, type, owner, mode and a hash of a regular file's bytes. */
export function snapshot(dir: string): Record<string, string> {
  const entries: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) {
    const stats = lstatSync(join(dir, name));
    const content = stats.isFile()
      ? createHash('sha256')
          .update(readFileSync(join(dir, name)))
          .digest('hex')
      : '';
    entries[name] = `${stats.mode.toString(8)} ${stats.uid} ${content}`;
  }
  return entries;
}

export const isRoot = process.geteuid?.() === 0;

const mounted: string[] = [];
afterAll(() => {
  for (const dir of mounted.reverse()) execFileSync('umount', ['-l', dir]);
});

/** A fresh tmpfs of `size` (e.g. '2m'), unmounted when the test file ends; undefined (with the reason) when not root. */
export function mountTmpfs(size: string): { dir?: string; why?: string } {
  if (!isRoot) return { why: 'mounting a tmpfs needs root' };
  const dir = tempDir('cst-tmpfs-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (error) {
    return { why: `mount -t tmpfs failed: ${(error as Error).message}` };
  }
  mounted.push(dir);
  return { dir };
}

/**
 * Why tests that run this checkout's code as `nobody` cannot run here, or undefined when they can: they need root
 * (to switch user) and a checkout `nobody` can read (a clone in a 0700 folder, as `mktemp -d` makes, is not).
 */
export const cannotRunCheckoutAsNobody: string | undefined = (() => {
  if (!isRoot) return 'needs root to run a child as another user';
  const probe = join(import.meta.dirname, 'files.ts');
  try {
    execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'test', '-r', probe], {
      stdio: 'ignore',
    });
    return undefined;
  } catch {
    return `needs a checkout the user nobody can read (${probe} is not: a clone in a 0700 folder?)`;
  }
})();

/** A test's name that carries why it is skipped, so the report says it. */
export const named = (name: string, skipReason: string | undefined) =>
  skipReason ? `${name} (skipped: ${skipReason})` : name;
