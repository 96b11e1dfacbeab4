/**
 * What storage trusts on disk. The CLI runs as root in a folder the service user owns, and that user must not be
 * able to turn root's file operations into its own power: a folder is used only when no other user can write it
 * and a trusted account owns it; a file only when it is a regular file with one link and a trusted owner. Files are
 * created without following links, repaired only through a no-follow descriptor (never chmod/chown by path), and
 * files root creates there are handed to the folder's owner, so the service can open them afterwards.
 */
import {
  accessSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readlinkSync,
  statSync,
  type Stats,
} from 'node:fs';
import { currentUid, describeMode, describeUid } from './accounts.js';
import { StorageError, storageErrorFor } from './errors.js';

export interface TrustPolicy {
  /** Accounts besides root and this process that may own the folder and its files (the service account). */
  extraOwners?: readonly number[];
  /**
   * Refuse sticky shared folders (/tmp) of a trusted owner too. Without it they are accepted, as for the mocks' `--db`: the
   * sticky bit stops other users renaming or deleting our files, and every file is still checked before use.
   */
  privateFolder?: boolean;
}

export interface TrustedDir {
  path: string;
  uid: number;
  gid: number;
}

const WRITABLE_BY_OTHERS = 0o022;
/** The files SQLite keeps beside a database; they hold the same data and get the same checks. */
export const SIDE_FILES = ['-wal', '-shm', '-journal'] as const;

function trusted(policy: TrustPolicy): Set<number> {
  return new Set([0, currentUid(), ...(policy.extraOwners ?? [])]);
}

function ownersList(owners: Set<number>): string {
  return [...owners].map(describeUid).join(', ');
}

/** Checks (and with `create`, makes, mode 0700) the folder that holds state files. */
export function trustedDir(path: string, policy: TrustPolicy, create: boolean): TrustedDir {
  let stats: Stats;
  try {
    if (create) mkdirSync(path, { recursive: true, mode: 0o700 });
    stats = statSync(path);
  } catch (cause) {
    throw storageErrorFor(cause, `${path} for state`, { otherwise: 'STATE_DIR_UNUSABLE', folder: path });
  }
  if (!stats.isDirectory()) throw new StorageError('STATE_DIR_UNUSABLE', `cannot use ${path} for state: not a folder`);
  const owners = trusted(policy);
  const seen = `owner ${describeUid(stats.uid)}, ${describeMode(stats.mode)}`;
  const sharedSticky = (stats.mode & 0o1000) !== 0 && owners.has(stats.uid) && !policy.privateFolder;
  if (stats.mode & WRITABLE_BY_OTHERS && !sharedSticky) {
    throw new StorageError(
      'UNSAFE_PATH',
      `refusing to use the state folder ${path}: other users can write it (${seen}); make it owner-only with 'chmod 0700 ${path}'`,
    );
  }
  if (!owners.has(stats.uid)) {
    throw new StorageError(
      'UNSAFE_PATH',
      `refusing to use the state folder ${path}: it belongs to an unexpected user (${seen}; expected ${ownersList(owners)}); give it to the service account with chown`,
    );
  }
  return { path, uid: stats.uid, gid: stats.gid };
}

function kindOf(stats: Stats): string {
  if (stats.isSymbolicLink()) return 'a symbolic link';
  if (stats.isDirectory()) return 'a folder';
  if (stats.isFIFO()) return 'a named pipe';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

function assertTrustedFile(path: string, stats: Stats, dir: TrustedDir, policy: TrustPolicy): void {
  const seen = `owner ${describeUid(stats.uid)}, ${describeMode(stats.mode)}`;
  if (!stats.isFile()) {
    let target = '';
    if (stats.isSymbolicLink()) {
      try {
        target = ` to ${readlinkSync(path)}`;
      } catch {}
    }
    throw new StorageError(
      'UNSAFE_PATH',
      `refusing to open ${path}: it is ${kindOf(stats)}${target} (${seen}), not a file this device created; remove it (nothing was changed)`,
    );
  }
  if (stats.nlink !== 1) {
    throw new StorageError(
      'UNSAFE_PATH',
      `refusing to open ${path}: it has ${stats.nlink} hard links (${seen}), so it may be another file under a second name; remove it (nothing was changed)`,
    );
  }
  const owners = trusted(policy).add(dir.uid);
  if (!owners.has(stats.uid)) {
    throw new StorageError(
      'UNSAFE_PATH',
      `refusing to open ${path}: it belongs to an unexpected user (${seen}; expected ${ownersList(owners)}); remove it (nothing was changed)`,
    );
  }
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export interface TrustedFileOptions {
  /** Create the file (0600, no-follow, exclusive) when it is absent. */
  create: boolean;
  /** Only reading is needed: check read access, never create. */
  readOnly?: boolean;
}

/**
 * Checks one file in a trusted folder and returns its stats, or undefined when absent (and not created). An existing
 * file is checked by `lstat` and `access` only, never opened: closing a descriptor of a file drops every POSIX lock
 * this process holds on it, including SQLite's, so storage opens a database file only where SQLite cannot have it
 * open (creating it, or `repairFile` while the connection is closed). SQLite's own open is checked afterwards with
 * `assertSameFile`.
 */
export function trustedFile(
  path: string,
  dir: TrustedDir,
  policy: TrustPolicy,
  options: TrustedFileOptions,
): Stats | undefined {
  let stats: Stats | undefined;
  try {
    stats = lstatOrUndefined(path);
    if (stats) {
      assertTrustedFile(path, stats, dir, policy);
      accessSync(path, options.readOnly ? constants.R_OK : constants.R_OK | constants.W_OK);
      return stats;
    }
    return options.create ? createOwnerOnly(path, dir, policy) : undefined;
  } catch (cause) {
    if (cause instanceof StorageError) throw cause;
    const owner = stats ? `it is owned by ${describeUid(stats.uid)}, ${describeMode(stats.mode)}; ` : '';
    throw storageErrorFor(cause, path, {
      detail: `${owner}this process runs as ${describeUid(currentUid())}`,
      folder: dir.path,
    });
  }
}

/** O_EXCL | O_NOFOLLOW: never through a link, never someone else's file; root hands it to the folder's owner. */
function createOwnerOnly(path: string, dir: TrustedDir, policy: TrustPolicy): Stats {
  const flags = constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW | constants.O_NONBLOCK;
  const fd = openSync(path, flags, 0o600);
  try {
    if (currentUid() === 0 && dir.uid !== 0) fchownSync(fd, dir.uid, dir.gid);
    const stats = fstatSync(fd);
    assertTrustedFile(path, stats, dir, policy);
    return stats;
  } finally {
    closeSync(fd);
  }
}

/** True when the file has group/other bits, or root made it in a folder another account owns. */
export function needsRepair(stats: Stats, dir: TrustedDir): boolean {
  return (stats.mode & 0o077) !== 0 || (currentUid() === 0 && stats.uid !== dir.uid);
}

/**
 * Makes an accepted file owner-only and, when root, the folder owner's, through a no-follow descriptor of the very
 * file that was checked. Only while no SQLite connection of this process has it open (see `trustedFile`).
 */
export function repairFile(path: string, dir: TrustedDir, policy: TrustPolicy, checked: Stats): void {
  const fd = openSync(path, constants.O_RDWR | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const stats = fstatSync(fd);
    if (stats.ino !== checked.ino || stats.dev !== checked.dev) {
      throw new StorageError('UNSAFE_PATH', `refusing to repair ${path}: it was replaced while being opened`);
    }
    assertTrustedFile(path, stats, dir, policy);
    if (stats.mode & 0o077) fchmodSync(fd, 0o600);
    if (currentUid() === 0 && stats.uid !== dir.uid) fchownSync(fd, dir.uid, dir.gid);
  } finally {
    closeSync(fd);
  }
}

/** Throws when `path` is no longer the file `expected` describes (swapped between the check and SQLite's open). */
export function assertSameFile(path: string, expected: Stats): void {
  const now = lstatOrUndefined(path);
  if (!now || now.ino !== expected.ino || now.dev !== expected.dev) {
    throw new StorageError('UNSAFE_PATH', `refusing to use ${path}: it was replaced while being opened`);
  }
}

/** Hands a file root just created in the folder to the folder's owner (the atomic writer's temp files). */
export function adoptFolderOwner(fd: number, dirPath: string): void {
  if (currentUid() !== 0) return;
  const dir = statSync(dirPath);
  if (dir.uid !== 0) fchownSync(fd, dir.uid, dir.gid);
}
