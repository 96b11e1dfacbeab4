/**
 * The run lock: `run` holds it for its whole life, so `reset`, `pair --force` and a second `run` can tell that the
 * service owns the state and refuse, as `tedge disconnect` does, instead of changing it under a live session.
 *
 * It is SQLite's own write lock on a small file of its own (`run.lock`): a transaction `run` opens and never
 * commits. The kernel drops the lock with the process, so a SIGKILL or a power cut never leaves a stale lock,
 * and there is no pid to go stale or be reused. The destructive commands take the same lock for as long as they
 * work, so the service cannot start halfway through a reset either.
 */
import { join } from 'node:path';
import { openDatabase, type Db } from '../../storage/index.js';
import { stateTrustPolicy } from './trust.js';
import { EdgeError } from '../errors.js';

export const RUN_LOCK_FILE = 'run.lock';
/** Held by a `pair` or `register` while it works (the service may run beside it, waiting to be registered). */
export const REGISTRATION_LOCK_FILE = 'registration.lock';

export interface RunLock {
  release(): void;
}

/** The refusal for a command that must not run beside the service: "…, then `what`". */
export const serviceRunning = (what: string): string =>
  `the service is running: stop it with systemctl stop consystence-edge, then ${what}`;

/** Takes the lock or throws SERVICE_RUNNING with `refusal`. */
export const acquireRunLock = (stateDir: string, refusal: string): Promise<RunLock> =>
  acquireLock(join(stateDir, RUN_LOCK_FILE), new EdgeError('SERVICE_RUNNING', refusal));

/** Takes the registration lock, or says that another `pair`/`register` on this device is running right now. */
export const acquireRegistrationLock = (stateDir: string): Promise<RunLock> =>
  acquireLock(
    join(stateDir, REGISTRATION_LOCK_FILE),
    new EdgeError(
      'REGISTRATION_PENDING',
      'another pair or register is running on this device right now (it holds the registration lock); wait for it to finish, then run this again',
    ),
  );

async function acquireLock(path: string, refusal: EdgeError): Promise<RunLock> {
  const { db } = await openDatabase({
    path,
    migrations: [],
    skipCheck: true,
    trust: stateTrustPolicy(),
  });
  try {
    // Ask once, never wait: a running service holds the lock for days.
    db.exec('PRAGMA busy_timeout = 0');
    db.exec('BEGIN IMMEDIATE');
  } catch (error) {
    db.close();
    if (!isBusy(error)) throw error;
    throw refusal;
  }
  return { release: () => closeHolding(db) };
}

function closeHolding(db: Db): void {
  try {
    db.exec('ROLLBACK');
  } finally {
    db.close();
  }
}

function isBusy(error: unknown): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return (
    (typeof code === 'string' && code.startsWith('SQLITE_BUSY')) ||
    (typeof message === 'string' && /database is locked/i.test(message))
  );
}
