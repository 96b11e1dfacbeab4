/**
 * The producer API's Unix socket path, made safe for a process that may run as root:
 * - Every directory on the way to the socket must be the process's own or root's, not a symbolic link, and not
 *   writable by others (a sticky directory such as /tmp is allowed: others cannot rename what they do not own).
 *   Then no other user can swap a parent for a link while the service runs, so the path removed at shutdown
 *   (libuv unlinks it by path on close) is the socket created at start, never a file elsewhere.
 * - Whatever is at the path is looked at without following it (lstat). Only a stale socket is removed: a stream
 *   socket whose connect() is refused (ECONNREFUSED: nothing bound listens any more). Anything else, including a
 *   datagram or seqpacket socket (connect fails with EPROTOTYPE), a listener with a full backlog (EAGAIN) or a
 *   socket this user may not open (EACCES), is someone's live socket and is refused, untouched.
 * The socket is created with its final mode by the umask around bind(), so there is no chmod by path for an
 * attacker to redirect by swapping the socket for a link.
 */
import { lstatSync, type Stats, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, resolve } from 'node:path';

/** rw for owner and group: the device's applications reach the API through the socket's group. */
export const PRODUCER_SOCKET_MODE = 0o660;

const STICKY = 0o1000;
const WRITABLE_BY_GROUP_OR_OTHERS = 0o022;

export class ProducerSocketError extends Error {}

function kindOf(stat: Stats): string {
  if (stat.isSocket()) return 'a socket';
  if (stat.isSymbolicLink()) return 'a symbolic link';
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFile()) return 'a regular file';
  return 'a special file';
}

/** Why another user could replace `dir` (or an entry in it) under us, or null when it is safe. */
function unsafeDirectoryReason(dir: string, stat: Stats, uid: number): string | null {
  if (!stat.isDirectory()) return `${dir} is ${kindOf(stat)}, not a directory`;
  if (stat.uid !== 0 && stat.uid !== uid) return `${dir} belongs to another user (uid ${stat.uid})`;
  if ((stat.mode & WRITABLE_BY_GROUP_OR_OTHERS) !== 0 && (stat.mode & STICKY) === 0)
    return `${dir} is writable by other users`;
  return null;
}

/** Refuses a socket path whose directories another user could change (see the header). */
function assertSafeParents(path: string): void {
  const uid = process.geteuid?.() ?? 0;
  const parents: string[] = [];
  for (let dir = dirname(resolve(path)); ; dir = dirname(dir)) {
    parents.unshift(dir);
    if (dir === dirname(dir)) break;
  }
  for (const dir of parents) {
    let stat: Stats;
    try {
      stat = lstatSync(dir);
    } catch (error) {
      throw new ProducerSocketError(
        `the producer socket directory ${dir} cannot be used (${(error as NodeJS.ErrnoException).code}); create it or choose another --producer-socket path`,
      );
    }
    const reason = unsafeDirectoryReason(dir, stat, uid);
    if (reason)
      throw new ProducerSocketError(
        `refusing the producer socket path ${path}: ${reason}; use a directory only root or this service may change, e.g. /run/consystence-edge/producer.sock`,
      );
  }
}

/** The error code of a stream connect() to the socket, or null when something accepted the connection. */
function connectError(path: string): Promise<string | null> {
  return new Promise((resolve) => {
    const probe = connect(path);
    const done = (code: string | null) => {
      probe.destroy();
      resolve(code);
    };
    probe.once('connect', () => done(null));
    probe.once('error', (error: NodeJS.ErrnoException) => done(error.code ?? 'UNKNOWN'));
    probe.setTimeout(2_000, () => done('ETIMEDOUT'));
  });
}

/** Makes `path` free for bind(): nothing there, or a stale socket (removed). Throws ProducerSocketError otherwise. */
export async function claimSocketPath(path: string): Promise<void> {
  assertSafeParents(path);
  const stat = lstatSync(path, { throwIfNoEntry: false });
  if (!stat) return;
  if (!stat.isSocket())
    throw new ProducerSocketError(
      `the producer socket path ${path} is ${kindOf(stat)}, not a socket; refusing to replace it: remove it or choose another --producer-socket path`,
    );
  const error = await connectError(path);
  if (error === null) throw new ProducerSocketError(`another process is listening on the producer socket ${path}`);
  if (error !== 'ECONNREFUSED')
    throw new ProducerSocketError(
      `the producer socket path ${path} holds a socket that is not a stale producer socket (connect: ${error}); refusing to replace it: remove it or choose another --producer-socket path`,
    );
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
