/**
 * The storage contract, run unchanged on both drivers: vitest on Node exercises better-sqlite3, and
 * `npm run test:bun` runs this same file under Bun, where bun:sqlite is picked. Real files in a temp folder.
 */
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  openDatabase,
  runtimeDriverName,
  schemaVersion,
  StorageError,
  checkIntegrity,
  writeFileAtomic,
  type Migration,
} from '../../../src/storage/index.js';
import { tempDir } from '../../helpers/tmp.js';

const migrations: Migration[] = [
  {
    version: 1,
    name: 'items',
    up: 'CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, data BLOB)',
  },
  {
    version: 2,
    name: 'counter',
    up: (db) => {
      db.exec('CREATE TABLE counter (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
      db.prepare('INSERT INTO counter VALUES (?, ?)').run('seq', 0);
    },
  },
];

const runtime = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined' ? 'bun' : 'node';

describe(`storage on ${runtime} (${runtimeDriverName()})`, () => {
  it('opens a new file with owner-only mode, WAL and the latest schema', async () => {
    const path = join(tempDir(), 'state', 'edge.db');
    const { db, migrated, recovered } = await openDatabase({ path, migrations });
    expect(db.driver).toBe(runtimeDriverName());
    expect(migrated).toEqual({ from: 0, to: 2 });
    expect(recovered).toBeUndefined();
    expect(db.prepare<{ journal_mode: string }>('PRAGMA journal_mode').get()?.journal_mode).toBe('wal');
    expect(db.prepare<{ synchronous: number }>('PRAGMA synchronous').get()?.synchronous).toBe(2); // FULL
    expect(statSync(path).mode & 0o777).toBe(0o600);
    // SQLite's own side files hold the same data: they must be owner-only too (SQLite copies the db file's mode).
    db.prepare('INSERT INTO items (name) VALUES (?)').run('wal');
    for (const side of ['-wal', '-shm']) {
      expect(existsSync(path + side)).toBe(true);
      expect(statSync(path + side).mode & 0o777).toBe(0o600);
    }
    db.close();
  });

  it('binds positional and named parameters the same way on both drivers', async () => {
    const { db } = await openDatabase({ path: join(tempDir(), 'a.db'), migrations });
    db.prepare('INSERT INTO items (name, data) VALUES (?, ?)').run('one', new Uint8Array([1, 2, 3]));
    db.prepare('INSERT INTO items (name, data) VALUES (@name, @data)').run({ name: 'two', data: null });
    const row = db
      .prepare<{ name: string; data: Uint8Array }>('SELECT name, data FROM items WHERE name = ?')
      .get('one');
    expect(row?.name).toBe('one');
    expect([...row!.data]).toEqual([1, 2, 3]);
    expect(db.prepare('SELECT * FROM items WHERE name = ?').get('missing')).toBeUndefined();
    expect(
      db
        .prepare<{ name: string }>('SELECT name FROM items ORDER BY id')
        .all()
        .map((r) => r.name),
    ).toEqual(['one', 'two']);
    const result = db.prepare('UPDATE items SET data = NULL').run();
    expect(result.changes).toBe(2);
    db.close();
  });

  it('commits a transaction whole or not at all', async () => {
    const { db } = await openDatabase({ path: join(tempDir(), 't.db'), migrations });
    expect(() =>
      db.transaction(() => {
        db.prepare('INSERT INTO items (name) VALUES (?)').run('kept?');
        db.prepare('UPDATE counter SET v = v + 1').run();
        db.prepare('INSERT INTO items (name) VALUES (?)').run('kept?'); // UNIQUE violation
      }),
    ).toThrow();
    expect(db.prepare<{ n: number }>('SELECT count(*) AS n FROM items').get()?.n).toBe(0);
    expect(db.prepare<{ v: number }>('SELECT v FROM counter').get()?.v).toBe(0);
    const value = db.transaction(() => {
      db.prepare('INSERT INTO items (name) VALUES (?)').run('a');
      // nested: a savepoint, rolled back alone
      try {
        db.transaction(() => {
          db.prepare('INSERT INTO items (name) VALUES (?)').run('b');
          throw new Error('inner');
        });
      } catch {
        /* expected */
      }
      return 42;
    });
    expect(value).toBe(42);
    expect(
      db
        .prepare<{ name: string }>('SELECT name FROM items')
        .all()
        .map((r) => r.name),
    ).toEqual(['a']);
    db.close();
  });

  it('migrates forward only, once, and keeps data across reopen', async () => {
    const path = join(tempDir(), 'm.db');
    const first = await openDatabase({ path, migrations: migrations.slice(0, 1) });
    first.db.prepare('INSERT INTO items (name) VALUES (?)').run('old');
    expect(schemaVersion(first.db)).toBe(1);
    first.db.close();
    const second = await openDatabase({ path, migrations });
    expect(second.migrated).toEqual({ from: 1, to: 2 });
    expect(second.db.prepare<{ name: string }>('SELECT name FROM items').get()?.name).toBe('old');
    second.db.close();
    const third = await openDatabase({ path, migrations });
    expect(third.migrated).toEqual({ from: 2, to: 2 });
    third.db.close();
  });

  it('refuses a schema newer than the build, leaving the file untouched', async () => {
    const path = join(tempDir(), 'new.db');
    (await openDatabase({ path, migrations })).db.close();
    const before = statSync(path).size;
    await expect(openDatabase({ path, migrations: migrations.slice(0, 1) })).rejects.toMatchObject({
      code: 'SCHEMA_TOO_NEW',
    });
    expect(statSync(path).size).toBe(before);
  });

  it('rolls back a failing migration and reports which one', async () => {
    const path = join(tempDir(), 'bad.db');
    const broken: Migration[] = [
      ...migrations,
      { version: 3, name: 'broken', up: 'CREATE TABLE x (a); INSERT INTO nowhere VALUES (1)' },
    ];
    await expect(openDatabase({ path, migrations: broken })).rejects.toMatchObject({ code: 'MIGRATION_FAILED' });
    const { db } = await openDatabase({ path, migrations });
    expect(schemaVersion(db)).toBe(2);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'x'").get()).toBeUndefined();
    db.close();
  });

  it('moves a corrupt file aside, reports it and starts fresh', async () => {
    const dir = tempDir();
    const path = join(dir, 'edge.db');
    writeFileSync(path, Buffer.alloc(8192, 0x5a)); // not a database at all
    const { db, recovered } = await openDatabase({ path, migrations });
    expect(recovered?.movedTo).toMatch(/edge\.db\.corrupt-/);
    expect(existsSync(recovered!.movedTo)).toBe(true);
    expect(readdirSync(dir).some((f) => f.startsWith('edge.db.corrupt-'))).toBe(true);
    expect(schemaVersion(db)).toBe(2);
    expect(checkIntegrity(db, 'full')).toBeNull();
    db.close();
  });

  it('detects a damaged page inside a real database', async () => {
    const path = join(tempDir(), 'pages.db');
    const { db } = await openDatabase({ path, migrations });
    db.transaction(() => {
      for (let i = 0; i < 2000; i++)
        db.prepare('INSERT INTO items (name, data) VALUES (?, ?)').run(`item-${i}`, new Uint8Array(200));
    });
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    db.close();
    // Overwrite a b-tree page in the middle of the file with garbage.
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(4096, 0xff), 0, 4096, 4096 * 3);
    closeSync(fd);
    await expect(openDatabase({ path, migrations, onCorrupt: 'throw' })).rejects.toMatchObject({
      code: 'DATABASE_CORRUPT',
    });
    const reopened = await openDatabase({ path, migrations });
    expect(reopened.recovered).toBeDefined();
    reopened.db.close();
  });

  it('explains an unusable state directory instead of crashing', async () => {
    const parent = tempDir();
    const blocker = join(parent, 'file');
    writeFileSync(blocker, 'not a folder');
    const error = await openDatabase({ path: join(blocker, 'edge.db'), migrations }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).code).toBe('STATE_DIR_UNUSABLE');
    expect((error as StorageError).message).toMatch(/writable/);
  });

  it('works in memory for mocks', async () => {
    const { db } = await openDatabase({ path: ':memory:', migrations });
    db.prepare('INSERT INTO items (name) VALUES (?)').run('x');
    expect(db.prepare<{ n: number }>('SELECT count(*) AS n FROM items').get()?.n).toBe(1);
    db.close();
  });

  it('writes files atomically with the asked mode', () => {
    const path = join(tempDir(), 'out.pem');
    writeFileAtomic(path, 'first');
    writeFileAtomic(path, 'second', 0o640);
    expect(readFileSync(path, 'utf8')).toBe('second');
    expect(readdirSync(join(path, '..')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
