/**
 * The one atomic file write: temp file in the same folder, fsync, rename over, fsync the folder. After a
 * power cut the path holds either the old content or the new, never a torn mix. The temp file is created
 * exclusively without following links, and the rename replaces a link at `path` instead of writing through it.
 * Written by root into a folder the service user owns, the file is handed to that user.
 */
import { closeSync, constants, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { adoptFolderOwner } from './file-trust.js';

export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): void {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    adoptFolderOwner(fd, dirname(path));
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    unlinkSync(temp);
    throw error;
  }
  closeSync(fd);
  renameSync(temp, path);
  const dirFd = openSync(dirname(path), 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}
