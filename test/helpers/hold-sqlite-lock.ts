/**
 * A real second process holding an exclusive lock on a SQLite file (always Node and better-sqlite3, whatever runtime
 * the test runs on): prints {"locked":true} once the lock is held, then keeps it until killed.
 * Usage: hold-sqlite-lock.ts PATH
 */
import Database from 'better-sqlite3';

const db = new Database(process.argv[2]!, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
db.pragma('locking_mode = EXCLUSIVE');
db.exec('BEGIN EXCLUSIVE');
// In WAL mode the file lock is taken on first access, not by BEGIN: read and write once so it is held.
db.prepare('SELECT COUNT(*) FROM sqlite_schema').get();
db.exec('CREATE TABLE IF NOT EXISTS lock_probe (x INTEGER)');
process.stdout.write(`${JSON.stringify({ locked: true })}\n`);
setInterval(() => {}, 60_000);
