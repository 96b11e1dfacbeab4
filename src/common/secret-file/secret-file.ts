/**
 * One secret from a file named on a command line (a pairing URI or code, an access token, a broker password):
 * secrets on the command line itself can be read by every local user in `ps` / `/proc/<pid>/cmdline`.
 *
 * A regular file only (a FIFO would block, `/dev/zero` would never end), read with the byte limit enforced on
 * the read, not on `stat`. The edge CLI runs as root, so by default a symbolic link is refused; a process that
 * runs as an ordinary user and is given mounted secrets (which are links) may follow them.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/** Why a secret file was refused, in words that name the flag and the path. */
export class SecretFileError extends Error {
  override readonly name = 'SecretFileError';
}

export function readSecretFile(
  path: string,
  flag: string,
  options: { maxBytes?: number; followLinks?: boolean } = {},
): string {
  const maxBytes = options.maxBytes ?? 4096;
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | (options.followLinks ? 0 : constants.O_NOFOLLOW));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new SecretFileError(
      code === 'ELOOP'
        ? `${flag} ${path} is a symbolic link; give the file itself`
        : `cannot read ${flag} ${path} (${code ?? (error as Error).message})`,
    );
  }
  try {
    if (!fstatSync(fd).isFile()) throw new SecretFileError(`${flag} ${path} is not a regular file`);
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (;;) {
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
      if (length > maxBytes) throw new SecretFileError(`${flag} ${path} is larger than ${maxBytes} bytes`);
    }
    return buffer.subarray(0, length).toString('utf8').trim();
  } finally {
    closeSync(fd);
  }
}
