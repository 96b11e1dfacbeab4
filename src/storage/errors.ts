/**
 * Storage failures a caller (and a technician reading `doctor`) can act on, and the one place that tells a
 * damaged file apart from a healthy file that cannot be used right now. Only corruption may ever move a file
 * aside; a full disk, a lock, a read-only mount, an I/O or permission error leaves every file as it is.
 */
import { statfsSync } from 'node:fs';
export type StorageErrorCode =
  | 'STATE_DIR_UNUSABLE'
  | 'UNSAFE_PATH'
  | 'FOREIGN_DATABASE'
  | 'DATABASE_CORRUPT'
  | 'DATABASE_LOCKED'
  | 'DISK_FULL'
  | 'READ_ONLY'
  | 'IO_ERROR'
  | 'PERMISSION_DENIED'
  | 'SCHEMA_TOO_NEW'
  | 'SCHEMA_TOO_OLD'
  | 'MIGRATION_FAILED';

export class StorageError extends Error {
  override readonly name = 'StorageError';
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The error's code: better-sqlite3 and bun:sqlite both put SQLite's (extended) result code name on `.code`
 * (SQLITE_BUSY, SQLITE_IOERR_SHMSIZE, ...); Node's fs puts the errno name there (ENOSPC, EACCES, ...).
 */
const codeOf = (error: unknown): string => String((error as { code?: unknown } | null)?.code ?? '');

/** SQLITE_CORRUPT* and SQLITE_NOTADB: the only errors that say the file itself is damaged. */
export function isCorruption(error: unknown): boolean {
  const code = codeOf(error);
  return code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB';
}

const KINDS: Array<{ match: (code: string) => boolean; code: StorageErrorCode; what: string; todo: string }> = [
  {
    match: (c) => c === 'SQLITE_FULL' || c === 'ENOSPC' || c === 'EDQUOT',
    code: 'DISK_FULL',
    what: 'the disk is full',
    todo: 'free space on that file system (nothing was changed or moved), then start again',
  },
  {
    match: (c) => c.startsWith('SQLITE_BUSY') || c.startsWith('SQLITE_LOCKED'),
    code: 'DATABASE_LOCKED',
    what: 'another process holds a lock on it',
    todo: 'wait for the other process to finish or stop it (is the service or another consystence-edge command running?); nothing was changed',
  },
  {
    match: (c) => c.startsWith('SQLITE_READONLY') || c === 'EROFS',
    code: 'READ_ONLY',
    what: 'it is on a read-only file system or cannot be written',
    todo: 'remount the state file system read-write, or point --state-dir at a writable folder; nothing was changed',
  },
  {
    match: (c) => c === 'SQLITE_PERM' || c === 'SQLITE_AUTH' || c === 'EACCES' || c === 'EPERM',
    code: 'PERMISSION_DENIED',
    what: 'permission denied',
    todo: 'run the command as the owner of the state folder, or fix its owner; nothing was changed',
  },
  {
    match: (c) => c.startsWith('SQLITE_IOERR') || c === 'EIO',
    code: 'IO_ERROR',
    what: 'the storage device reported an I/O error',
    todo: 'check the disk (dmesg, SMART) before anything else; nothing was changed or moved',
  },
];

/** True when the file system holding `folder` has no byte left for this user. */
function noSpaceLeft(folder: string | undefined): boolean {
  if (!folder) return false;
  try {
    return statfsSync(folder).bavail === 0;
  } catch {
    return false;
  }
}

export interface ErrorContext {
  /** What the caller knows, e.g. the file's owner and mode. */
  detail?: string;
  /** The code when the error matches no known kind. */
  otherwise?: StorageErrorCode;
  /**
   * The folder the file lives in: SQLite reports a full disk met while growing `-shm` as an I/O error
   * (SQLITE_IOERR_SHMSIZE), so an I/O error on a file system with no space left is reported as a full disk.
   */
  folder?: string;
}

/**
 * Turns a driver or fs error met while using `subject` (a path, or "DIR for state") into a StorageError that says
 * what is wrong and what to do.
 */
export function storageErrorFor(error: unknown, subject: string, context: ErrorContext = {}): StorageError {
  if (error instanceof StorageError) return error;
  const code = codeOf(error);
  const message = (error as Error | undefined)?.message ?? String(error);
  let kind = KINDS.find((k) => k.match(code));
  if ((!kind || kind.code === 'IO_ERROR') && noSpaceLeft(context.folder)) {
    kind = KINDS.find((k) => k.code === 'DISK_FULL');
  }
  const reason = `${code || 'error'}: ${message}${context.detail ? `; ${context.detail}` : ''}`;
  if (!kind) {
    return new StorageError(
      context.otherwise ?? 'IO_ERROR',
      `cannot use ${subject} (${reason}); check that the folder exists and is writable by this user and that the disk is not full; nothing was changed`,
      { cause: error },
    );
  }
  return new StorageError(kind.code, `cannot use ${subject}: ${kind.what} (${reason}); ${kind.todo}`, { cause: error });
}
