/**
 * Writes a file the CLI creates itself (a support bundle): created new, owner-only, never through a link or over
 * an existing file. Every write and the fsync are checked; when any fails (a full disk, a quota, an I/O error)
 * the partial file is removed — only if the path still names the very file this call created (same device and
 * inode as its open descriptor), so a file swapped in meanwhile is never deleted — and the error says what to do.
 */
import { closeSync, constants, fstatSync, fsyncSync, lstatSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { EdgeError } from '../errors.js';

const DISK_FULL = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);

export function writeNewFile(path: string, data: Buffer): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST')
      throw new EdgeError('USAGE', `${path} already exists; choose another --out (a bundle never overwrites a file)`);
    throw failure(path, error);
  }
  // Who the file is, taken from the descriptor before anything can go wrong: removal checks the path against it.
  const created = fstatSync(fd);
  let closed = false;
  try {
    for (let offset = 0; offset < data.length; ) {
      const written = writeSync(fd, data, offset, data.length - offset);
      if (written <= 0) throw Object.assign(new Error('nothing written'), { code: 'EIO' });
      offset += written;
    }
    fsyncSync(fd);
    closed = true;
    closeSync(fd);
  } catch (error) {
    removeIfStillOurs(path, created);
    if (!closed) closeSync(fd);
    throw failure(path, error);
  }
}

function removeIfStillOurs(path: string, created: { dev: number; ino: number }): void {
  try {
    const now = lstatSync(path);
    if (now.dev === created.dev && now.ino === created.ino) unlinkSync(path);
  } catch {
    // Already gone, or the directory cannot be read: nothing of ours to remove.
  }
}

function failure(path: string, error: unknown): EdgeError {
  const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  return new EdgeError(
    'INTERNAL',
    DISK_FULL.has(code)
      ? `the disk is full: free space in ${dirname(path)} or use --out on another disk (${path} not written)`
      : `cannot write ${path} (${code}); nothing was kept`,
  );
}
