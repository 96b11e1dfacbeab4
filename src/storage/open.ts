/**
 * Opens a database file the way every part needs it. Before SQLite sees a path, the folder and the file (and any
 * `-wal`/`-shm`/`-journal` beside it) pass the checks of file-trust.ts; the file is created by us (0600, no-follow)
 * and SQLite only ever opens it. Then WAL, `synchronous` as asked, a quick integrity check, the program's mark
 * (`application_id`) and migrations.
 *
 * Only genuine corruption (SQLITE_CORRUPT, SQLITE_NOTADB, a failing quick check) moves a file aside, never
 * deleting it, so a device whose disk was damaged comes back up and says so. Every other failure (disk full,
 * locked, read-only, I/O, permission) leaves every file as it is and throws a StorageError saying what to do.
 * A read-only open never creates, repairs, renames or migrates anything.
 */
import { existsSync, lstatSync, renameSync, statSync, unlinkSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { describeMode, describeUid } from './accounts.js';
import type { Db, Migration } from './db.js';
import { isCorruption, StorageError, storageErrorFor } from './errors.js';
import {
  assertSameFile,
  needsRepair,
  repairFile,
  SIDE_FILES,
  trustedDir,
  trustedFile,
  type TrustPolicy,
} from './file-trust.js';
import { migrate, schemaVersion } from './migrate.js';

export interface OpenOptions {
  /** A file path, or ':memory:'. */
  path: string;
  migrations: readonly Migration[];
  /** FULL for credentials (default), NORMAL where a lost last commit is acceptable. */
  synchronous?: 'FULL' | 'NORMAL';
  /** What to do with a file that fails its check: move it aside and start empty (default), or throw. */
  onCorrupt?: 'move-aside' | 'throw';
  /** Skip the quick check (for tools that open many short-lived handles). */
  skipCheck?: boolean;
  /**
   * For commands that only look (status, doctor): nothing is created, repaired, renamed or migrated, and a missing
   * file reads as an empty database (`absent` in the result).
   */
  readOnly?: boolean;
  /**
   * This program's mark, written at creation (`PRAGMA application_id`). A file with another mark, or an unmarked
   * file that already has tables, is refused (FOREIGN_DATABASE) instead of being migrated.
   */
  applicationId?: number;
  /** Recognises an unmarked file made by an older version of this program: it is marked and migrated in place. */
  isLegacyFile?: (db: Db) => boolean;
  /** Who besides root and this process may own the folder and files (the service account). */
  trust?: TrustPolicy;
}

export interface OpenResult {
  db: Db;
  /** Set when a corrupt file was moved aside and a fresh database was created in its place. */
  recovered?: { movedTo: string; reason: string };
  migrated: { from: number; to: number };
  /** Read-only opens: the file does not exist (or is empty); `db` is an empty in-memory database with the schema. */
  absent?: true;
}

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined';

async function openDriver(path: string, readOnly: boolean): Promise<Db> {
  if (isBun) return (await import('./driver-bun.js')).openBunDriver(path, { readOnly });
  return (await import('./driver-node.js')).openNodeDriver(path, { readOnly });
}

export const runtimeDriverName = (): Db['driver'] => (isBun ? 'bun:sqlite' : 'better-sqlite3');

/** Runs SQLite's check; returns null when healthy, else the first problem it reported. */
export function checkIntegrity(db: Db, mode: 'quick' | 'full' = 'quick'): string | null {
  const rows = db
    .prepare<Record<string, string>>(mode === 'quick' ? 'PRAGMA quick_check' : 'PRAGMA integrity_check')
    .all();
  const first = rows[0] ? Object.values(rows[0])[0] : 'no result';
  return first === 'ok' ? null : String(first);
}

/** Settings that write nothing: safe before the file is known to be ours. */
function configureSession(db: Db): void {
  db.exec('PRAGMA busy_timeout = 5000');
  db.exec('PRAGMA foreign_keys = ON');
}

/** Settings that may write the file's header (WAL): only once the file is accepted, never on a read-only open. */
function configureWrites(db: Db, synchronous: 'FULL' | 'NORMAL', memory: boolean): void {
  if (!memory) db.exec('PRAGMA journal_mode = WAL');
  db.exec(`PRAGMA synchronous = ${synchronous}`);
  // Deleted cells are zeroed where that costs no extra I/O; secrets get the full scrub (scrub.ts).
  db.exec('PRAGMA secure_delete = FAST');
}

function moveAside(path: string): string {
  const movedTo = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  renameSync(path, movedTo);
  for (const suffix of SIDE_FILES) {
    if (existsSync(path + suffix)) renameSync(path + suffix, movedTo + suffix);
  }
  return movedTo;
}

/** Refuses a SQLite file this program did not make; marks a new (or recognised older) one. */
function checkMark(db: Db, options: OpenOptions, readOnly: boolean): void {
  const expected = options.applicationId;
  if (expected === undefined) return;
  const mark = Number(db.prepare<{ application_id: number }>('PRAGMA application_id').get()?.application_id ?? 0);
  if (mark === expected) return;
  const tables = db
    .prepare<{ name: string }>("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
    .all()
    .map((row) => row.name);
  const empty = tables.length === 0 && schemaVersion(db) === 0;
  if (mark !== 0 || !(empty || options.isLegacyFile?.(db))) {
    throw new StorageError(
      'FOREIGN_DATABASE',
      `refusing to use ${options.path}: it is a SQLite database this program did not make (application_id ${mark}, tables: ${tables.slice(0, 6).join(', ') || 'none'}); move it away or choose another --state-dir (nothing was changed)`,
    );
  }
  if (!readOnly) db.exec(`PRAGMA application_id = ${expected}`);
}

/**
 * A failed open (a full disk, say) can leave the `-wal`/`-shm` SQLite had just created. An empty WAL holds nothing,
 * and without a WAL the `-shm` index is rebuilt on the next open, so removing what this open created leaves the
 * folder exactly as it was found.
 */
function removeSideFilesCreatedBy(path: string, existedBefore: readonly string[]): void {
  const sizeOf = (suffix: string) => {
    try {
      const stats = lstatSync(path + suffix);
      return stats.isFile() ? stats.size : undefined;
    } catch {
      return undefined;
    }
  };
  for (const suffix of ['-wal', '-journal', '-shm'] as const) {
    if (existedBefore.includes(suffix)) continue;
    const size = sizeOf(suffix);
    const removable = suffix === '-shm' ? size !== undefined && sizeOf('-wal') === undefined : size === 0;
    if (removable) unlinkSync(path + suffix);
  }
}

/** Only "does not exist" reads as absent; a path through a file (ENOTDIR) or a denied one is an error. */
function isMissing(path: string): boolean {
  try {
    statSync(path);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

function ownership(file: Stats): string {
  return `the file is owned by ${describeUid(file.uid)}, ${describeMode(file.mode)}`;
}

export async function openDatabase(options: OpenOptions): Promise<OpenResult> {
  if (options.path === ':memory:') {
    const db = await openDriver(':memory:', false);
    configureSession(db);
    configureWrites(db, options.synchronous ?? 'FULL', true);
    return { db, migrated: finish(db, options, false) };
  }
  return openFile(options);
}

/** An empty in-memory database with the schema: what a read-only command sees where there is no file yet. */
async function absent(options: OpenOptions): Promise<OpenResult> {
  return { ...(await openDatabase({ ...options, path: ':memory:', readOnly: false })), absent: true };
}

async function openFile(options: OpenOptions): Promise<OpenResult> {
  const { path } = options;
  const readOnly = options.readOnly === true;
  const trust = options.trust ?? {};
  if (readOnly && isMissing(dirname(path))) return absent(options);
  const dir = trustedDir(dirname(path), trust, !readOnly);
  const file = trustedFile(path, dir, trust, { create: !readOnly, readOnly });
  if (!file || (readOnly && file.size === 0)) return absent(options);
  const sideFiles = SIDE_FILES.map((suffix) => ({
    suffix,
    stats: trustedFile(path + suffix, dir, trust, { create: false, readOnly }),
  }));
  const sideFilesBefore = sideFiles.filter((side) => side.stats).map((side) => side.suffix);
  const connect = async (): Promise<Db> => {
    const connection = await openDriver(path, readOnly);
    try {
      assertSameFile(path, file);
      configureSession(connection);
    } catch (error) {
      connection.close();
      throw error;
    }
    return connection;
  };

  let db: Db | undefined;
  let problem: string | null = null;
  try {
    db = await connect();
    if (!options.skipCheck) problem = checkIntegrity(db);
  } catch (cause) {
    db?.close();
    db = undefined;
    // Corruption surfaces as a throw on the first statement; anything else is a healthy file we cannot use now.
    if (!isCorruption(cause)) {
      removeSideFilesCreatedBy(path, sideFilesBefore);
      throw storageErrorFor(cause, path, { detail: ownership(file), folder: dir.path });
    }
    problem = `${(cause as { code?: string }).code}: ${(cause as Error).message}`;
  }

  const damaged = (reason: string) => openFresh(options, reason);
  if (problem !== null || !db) {
    db?.close();
    return damaged(String(problem));
  }

  try {
    checkMark(db, options, readOnly);
    if (!readOnly) {
      const repairs = [{ suffix: '', stats: file }, ...sideFiles].filter(
        (entry): entry is { suffix: string; stats: Stats } =>
          entry.stats !== undefined && needsRepair(entry.stats, dir),
      );
      if (repairs.length > 0) db = await repairAndReconnect(db, { path, dir, trust, repairs }, connect);
      configureWrites(db, options.synchronous ?? 'FULL', false);
    }
    if (readOnly && schemaVersion(db) === 0) {
      db.close();
      return absent(options);
    }
    return { db, migrated: finish(db, options, readOnly) };
  } catch (error) {
    db.close();
    // With skipCheck, damage surfaces only here (reading the mark or the schema, or migrating).
    const cause = error instanceof StorageError ? error.cause : error;
    if (isCorruption(cause)) return damaged(`${(cause as { code?: string }).code}: ${(cause as Error).message}`);
    throw storageErrorFor(error, path, { detail: ownership(file), folder: dir.path });
  }
}

/** A damaged file is moved aside and a fresh one opened, unless the caller (or a read-only open) forbids moving. */
async function openFresh(options: OpenOptions, reason: string): Promise<OpenResult> {
  const { path } = options;
  if (options.readOnly === true || options.onCorrupt === 'throw') {
    throw new StorageError(
      'DATABASE_CORRUPT',
      `the database ${path} is damaged (${reason}); nothing was moved: stop the service and run 'reset', or move the file aside`,
    );
  }
  const movedTo = moveAside(path);
  const fresh = await openFile(options);
  return { ...fresh, recovered: { movedTo, reason } };
}

/**
 * Repaired only now that the file is accepted, and with the connection closed (see trustedFile). Rare: only files
 * an older version or a root command left with a wrong mode or owner.
 */
async function repairAndReconnect(
  db: Db,
  found: {
    path: string;
    dir: Parameters<typeof repairFile>[1];
    trust: Parameters<typeof repairFile>[2];
    repairs: Array<{ suffix: string; stats: Stats }>;
  },
  connect: () => Promise<Db>,
): Promise<Db> {
  db.close();
  for (const { suffix, stats } of found.repairs) {
    try {
      repairFile(found.path + suffix, found.dir, found.trust, stats);
    } catch (error) {
      // Closing the last connection makes SQLite delete a WAL database's -wal and -shm: one seen before the close
      // may be gone, which is no failure (it used to stop `run`). The reopen recreates them with the repaired mode.
      if (suffix === '' || (error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return connect();
}

/** Migrates a writable database; a read-only one must already be current (a read-only command never migrates). */
function finish(db: Db, options: OpenOptions, readOnly: boolean): { from: number; to: number } {
  if (!readOnly) return migrate(db, options.migrations);
  const version = schemaVersion(db);
  if (version < options.migrations.length) {
    throw new StorageError(
      'SCHEMA_TOO_OLD',
      `the database ${options.path} has schema version ${version}, older than this build (${options.migrations.length}); start the service once to update it (this command only reads)`,
    );
  }
  if (version > options.migrations.length) migrate(db, options.migrations); // throws SCHEMA_TOO_NEW
  return { from: version, to: version };
}
