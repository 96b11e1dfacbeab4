/**
 * Opens an existing database for reading only: no folder or file is created, no mode changed, no migration run,
 * and a damaged file is reported, never moved aside. For tools that must look without touching (the support
 * bundle). The folder and files pass the same checks as `openDatabase` (file-trust.ts). SQLite itself may add the
 * empty `-wal`/`-shm` companions of a WAL database that has none (it gives them the database file's owner, also
 * when run as root), which the service reuses as they are.
 */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Db } from './db.js';
import { StorageError } from './errors.js';
import { assertSameFile, SIDE_FILES, trustedDir, trustedFile, type TrustPolicy } from './file-trust.js';

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined';

export async function openDatabaseReadOnly(path: string, trust: TrustPolicy = {}): Promise<Db> {
  if (!existsSync(path)) throw new StorageError('STATE_DIR_UNUSABLE', `there is no database at ${path}`);
  const dir = trustedDir(dirname(path), trust, false);
  const file = trustedFile(path, dir, trust, { create: false, readOnly: true });
  if (!file) throw new StorageError('STATE_DIR_UNUSABLE', `there is no database at ${path}`);
  for (const suffix of SIDE_FILES) trustedFile(path + suffix, dir, trust, { create: false, readOnly: true });
  const db = isBun
    ? (await import('./driver-bun.js')).openBunDriver(path, { readOnly: true })
    : (await import('./driver-node.js')).openNodeDriver(path, { readOnly: true });
  try {
    assertSameFile(path, file);
    db.exec('PRAGMA busy_timeout = 5000');
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}
