/**
 * Reads a small file someone else may have placed (a pairing URI, a persisted id) without trusting what the path
 * is: no-follow and non-blocking open, so a link or a FIFO cannot redirect or stall the read; the type checked on
 * the descriptor; and the size limit enforced on the bytes actually read, since `stat` says 0 for /dev/zero and
 * for files that grow while being read.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

export class UnreadableFileError extends Error {
  override readonly name = 'UnreadableFileError';
}

/** The file's bytes as UTF-8; undefined when it does not exist. Throws UnreadableFileError on anything else. */
export function readRegularFile(path: string, maxBytes: number): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new UnreadableFileError(
      code === 'ELOOP' ? `${path} is a symbolic link; put the file itself there` : `cannot read ${path} (${code})`,
    );
  }
  try {
    if (!fstatSync(fd).isFile()) throw new UnreadableFileError(`${path} is not a regular file`);
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > maxBytes) throw new UnreadableFileError(`${path} is larger than ${maxBytes} bytes`);
    }
    return buffer.subarray(0, length).toString('utf8');
  } finally {
    closeSync(fd);
  }
}
