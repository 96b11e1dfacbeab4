/**
 * The state dir's files, and the one-time split of the single `edge.db` of earlier versions (issue 12.2):
 *
 * - `identity.db`: identity and credentials (device key, registration, token, config, pairing, commands, status,
 *   the seq reservation). Small; SQLite's quick_check runs on it at every boot.
 * - `outbox.db`: the store-and-forward queue. Up to the buffer limit (1 GiB by default); at boot only its header
 *   and schema are read, so coming online does not wait on the backlog.
 *
 * The split never copies the backlog: the small identity tables are copied into a new file, and the old file
 * itself becomes the outbox. Each step leaves a state dir that works, and the next boot finishes what a power cut
 * interrupted:
 *
 *   edge.db                       old layout
 *   edge.db + identity.db         step 1 done: identity.db is authoritative for identity, edge.db for the queue
 *   identity.db + outbox.db       step 2 done (outbox.db's migration then drops its stale identity copy)
 *
 * identity.db appears only by rename, complete and fsynced, so its presence alone says step 1 finished.
 */
import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '../../storage/index.js';
import { stateTrustPolicy } from './trust.js';
import { identityMigrations, legacyEdgeMigrations } from '../migrations/index.js';
import { IDENTITY_TABLES } from '../migrations/0003-outbox-database.js';

export const IDENTITY_DB_FILE = 'identity.db';
export const OUTBOX_DB_FILE = 'outbox.db';
/** The single database of earlier versions, renamed to outbox.db by the split. */
export const LEGACY_DB_FILE = 'edge.db';

const SPLIT_SUFFIX = '.split';

/** Which file holds what right now, whatever step the split reached. */
export interface StateFiles {
  identity: string;
  outbox: string;
  /** The outbox is still inside edge.db (the split has not moved it yet). */
  outboxInLegacyFile: boolean;
}

export function stateFiles(stateDir: string): StateFiles {
  const legacy = join(stateDir, LEGACY_DB_FILE);
  const identity = join(stateDir, IDENTITY_DB_FILE);
  const outbox = join(stateDir, OUTBOX_DB_FILE);
  const hasLegacy = existsSync(legacy);
  return {
    identity: existsSync(identity) || !hasLegacy ? identity : legacy,
    outbox: hasLegacy ? legacy : outbox,
    outboxInLegacyFile: hasLegacy,
  };
}

/** Step 1: copy the identity tables into identity.db (built under a temporary name, then renamed). */
export async function copyIdentityOut(stateDir: string): Promise<void> {
  const target = join(stateDir, IDENTITY_DB_FILE);
  if (existsSync(target)) return;
  const temp = target + SPLIT_SUFFIX;
  removeDatabaseFiles(temp); // a copy a power cut interrupted
  const { db } = await openDatabase({
    path: temp,
    migrations: identityMigrations,
    skipCheck: true,
    trust: stateTrustPolicy(),
  });
  try {
    // exec, not a prepared statement: bun:sqlite keeps a prepared statement alive, and DETACH then reports busy.
    db.exec(`ATTACH DATABASE ${sqlString(join(stateDir, LEGACY_DB_FILE))} AS legacy`);
    db.transaction(() => {
      for (const table of IDENTITY_TABLES) db.exec(`INSERT INTO main.${table} SELECT * FROM legacy.${table}`);
    });
    db.exec('DETACH DATABASE legacy');
    // Back to a single file, so the rename below moves everything there is.
    db.exec('PRAGMA journal_mode = DELETE');
  } finally {
    db.close();
  }
  fsyncFile(temp);
  renameSync(temp, target);
  fsyncFile(stateDir);
}

/** Step 2: edge.db, now holding only the queue that matters, becomes outbox.db. */
export async function moveLegacyToOutbox(stateDir: string): Promise<void> {
  const legacy = join(stateDir, LEGACY_DB_FILE);
  if (!existsSync(legacy)) return;
  // Fold the WAL into the file and leave no -wal/-shm: they are named after the file and would not follow it.
  const { db } = await openDatabase({
    path: legacy,
    migrations: legacyEdgeMigrations,
    skipCheck: true,
    trust: stateTrustPolicy(),
  });
  try {
    db.exec('PRAGMA journal_mode = DELETE');
  } finally {
    db.close();
  }
  fsyncFile(legacy);
  renameSync(legacy, join(stateDir, OUTBOX_DB_FILE));
  fsyncFile(stateDir);
}

/** The split's steps in order; each is idempotent, so a boot after a power cut simply runs them all again. */
export const SPLIT_STEPS = [copyIdentityOut, moveLegacyToOutbox] as const;

export async function splitLegacyDatabase(stateDir: string): Promise<boolean> {
  if (!existsSync(join(stateDir, LEGACY_DB_FILE))) return false;
  for (const step of SPLIT_STEPS) await step(stateDir);
  return true;
}

function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

function removeDatabaseFiles(path: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(path + suffix, { force: true });
}

function fsyncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
