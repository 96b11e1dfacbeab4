/**
 * Secrets given to the CLI (a pairing URI, a pairing code) come from stdin, a file or the environment: anything
 * on a command line can be read by every local user in `ps` / `/proc/<pid>/cmdline` for as long as the command
 * runs (a retrying `pair` runs for minutes). The old flags keep working, with a warning.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { EdgeError } from '../errors.js';

const MAX_SECRET_FILE_BYTES = 4096;

/** `pair` reads the pairing URI, or the code of the separate-flags form, from these when no flag gives it. */
export const PAIRING_URI_ENV = 'CONSYSTENCE_EDGE_PAIRING_URI';
export const PAIRING_CODE_ENV = 'CONSYSTENCE_EDGE_PAIRING_CODE';

/**
 * One secret from a file the technician named: a regular file only (a FIFO would block, `/dev/zero` would never
 * end), read with the byte limit enforced on the read. The edge CLI runs as root, so it does not follow a
 * symbolic link; the mock site server (an ordinary user, often given mounted secrets, which are links) may.
 */
export function readSecretFile(
  path: string,
  flag: string,
  options: { maxBytes?: number; followLinks?: boolean } = {},
): string {
  const maxBytes = options.maxBytes ?? MAX_SECRET_FILE_BYTES;
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | (options.followLinks ? 0 : constants.O_NOFOLLOW));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new EdgeError(
      'USAGE',
      code === 'ELOOP'
        ? `${flag} ${path} is a symbolic link; give the file itself`
        : `cannot read ${flag} ${path} (${code ?? (error as Error).message})`,
    );
  }
  try {
    if (!fstatSync(fd).isFile()) throw new EdgeError('USAGE', `${flag} ${path} is not a regular file`);
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (;;) {
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
      if (length > maxBytes) throw new EdgeError('USAGE', `${flag} ${path} is larger than ${maxBytes} bytes`);
    }
    return buffer.subarray(0, length).toString('utf8').trim();
  } finally {
    closeSync(fd);
  }
}

/** What `pair` prints when a code was given on its command line anyway. */
export const visibleSecretWarning = (flag: string, safe: string) =>
  `warning: the pairing code given with ${flag} is visible to every user of this device (ps) while this command runs; use ${safe} instead\n`;
