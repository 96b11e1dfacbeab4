/**
 * The producer API's Unix socket path, made safe for a process that may run as root in a directory others can
 * write: whatever is at the path is looked at without following it (lstat), and only a stale socket (nobody
 * listening) is removed. A regular file, a directory, a symlink or a live socket is refused with a clear error.
 * The socket is created with its final mode by the umask around bind(), so there is no chmod by path for an
 * attacker to redirect by swapping the socket for a link.
 */
import { lstatSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';

/** rw for owner and group: the device's applications reach the API through the socket's group. */
export const PRODUCER_SOCKET_MODE = 0o660;

export class ProducerSocketError extends Error {}

function kindOf(path: string): string | null {
  try {
    const stat = lstatSync(path);
    if (stat.isSocket()) return 'socket';
    if (stat.isSymbolicLink()) return 'a symbolic link';
    if (stat.isDirectory()) return 'a directory';
    if (stat.isFile()) return 'a regular file';
    return 'a special file';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** True when a process accepts connections on the socket; false for a stale one left by a killed process. */
function isListening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    const done = (listening: boolean) => {
      probe.destroy();
      resolve(listening);
    };
    probe.once('connect', () => done(true));
    probe.once('error', () => done(false));
    probe.setTimeout(2_000, () => done(true));
  });
}

/** Makes `path` free for bind(): nothing there, or a stale socket (removed). Throws ProducerSocketError otherwise. */
export async function claimSocketPath(path: string): Promise<void> {
  const kind = kindOf(path);
  if (kind === null) return;
  if (kind !== 'socket')
    throw new ProducerSocketError(
      `the producer socket path ${path} is ${kind}, not a socket; refusing to replace it: remove it or choose another --producer-socket path`,
    );
  if (await isListening(path))
    throw new ProducerSocketError(`another process is listening on the producer socket ${path}`);
  // A stale socket from a killed process: without this, listen fails with EADDRINUSE after every power cut.
  // unlink() removes the directory entry, never what a link points to.
  unlinkSync(path);
}

/** Runs `bind` (a synchronous listen()) with a umask that gives the new socket PRODUCER_SOCKET_MODE. */
export function withSocketUmask<T>(bind: () => T): T {
  const previous = process.umask(0o777 & ~PRODUCER_SOCKET_MODE);
  try {
    return bind();
  } finally {
    process.umask(previous);
  }
}
