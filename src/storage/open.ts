/**
 * Opens a database file the way every part needs it: owner-only file modes, WAL, `synchronous` as asked,
 * a quick integrity check, then migrations. A corrupt file is moved aside (never deleted) and reported, so a
 * device that lost its disk to a power cut comes back up and says what happened instead of crash-looping.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Db, Migration } from './db.js';
import { StorageError } from './errors.js';
import { migrate } from './migrate.js';

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
}

export interface OpenResult {
  db: Db;
  /** Set when a corrupt file was moved aside and a fresh database was created in its place. */
  recovered?: { movedTo: string; reason: string };
  migrated: { from: number; to: number };
}

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined';

async function openDriver(path: string): Promise<Db> {
  if (isBun) return (await import('./driver-bun.js')).openBunDriver(path);
  return (await import('./driver-node.js')).openNodeDriver(path);
}

export const runtimeDriverName = (): Db['driver'] => (isBun ? 'bun:sqlite' : 'better-sqlite3');

function prepareFile(path: string): void {
  const dir = dirname(path);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
    chmodSync(path, 0o600);
  } catch (cause) {
    throw new StorageError(
      'STATE_DIR_UNUSABLE',
      `cannot use ${dir} for state (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}); check that it exists, is writable by this user and the disk is not full`,
      { cause },
    );
  }
}

/** Runs SQLite's check; returns null when healthy, else the first problem it reported. */
export function checkIntegrity(db: Db, mode: 'quick' | 'full' = 'quick'): string | null {
  const rows = db
    .prepare<Record<string, string>>(mode === 'quick' ? 'PRAGMA quick_check' : 'PRAGMA integrity_check')
    .all();
  const first = rows[0] ? Object.values(rows[0])[0] : 'no result';
  return first === 'ok' ? null : String(first);
}

function configure(db: Db, synchronous: 'FULL' | 'NORMAL', memory: boolean): void {
  db.exec('PRAGMA busy_timeout = 5000');
  if (!memory) db.exec('PRAGMA journal_mode = WAL');
  db.exec(`PRAGMA synchronous = ${synchronous}`);
  db.exec('PRAGMA foreign_keys = ON');
}

function moveAside(path: string): string {
  const movedTo = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  renameSync(path, movedTo);
  for (const suffix of ['-wal', '-shm']) {
    if (existsSync(path + suffix)) renameSync(path + suffix, movedTo + suffix);
  }
  return movedTo;
}

export async function openDatabase(options: OpenOptions): Promise<OpenResult> {
  const memory = options.path === ':memory:';
  const synchronous = options.synchronous ?? 'FULL';
  if (!memory) prepareFile(options.path);

  let problem: string | null = null;
  let db: Db | undefined;
  try {
    db = await openDriver(options.path);
    configure(db, synchronous, memory);
    if (!options.skipCheck) problem = checkIntegrity(db);
  } catch (cause) {
    // SQLITE_NOTADB / SQLITE_CORRUPT surface as throws on the first statement.
    problem = (cause as Error).message;
  }

  let recovered: OpenResult['recovered'];
  if (problem !== null) {
    db?.close();
    if (memory || options.onCorrupt === 'throw') {
      throw new StorageError(
        'DATABASE_CORRUPT',
        `the database ${options.path} is damaged (${problem}); move it aside or run 'reset' to start over`,
      );
    }
    recovered = { movedTo: moveAside(options.path), reason: problem };
    prepareFile(options.path);
    db = await openDriver(options.path);
    configure(db, synchronous, memory);
  }

  const migrated = migrate(db!, options.migrations);
  return recovered ? { db: db!, recovered, migrated } : { db: db!, migrated };
}
