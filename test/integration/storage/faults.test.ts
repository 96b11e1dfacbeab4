/**
 * Faults that must never cost a healthy file (issue 12.1, 18.2, 18.3, 18.7), reproduced for real on both drivers
 * (vitest on Node runs better-sqlite3; `npm run test:bun` runs this file under Bun with bun:sqlite): a full tmpfs,
 * an exclusive lock held by another process, a read-only mount, planted links, a foreign SQLite file. Only
 * corruption may move a file aside; everything else leaves every byte as it was and says what to do.
 */
import { execFileSync } from 'node:child_process';
import {
  chownSync,
  closeSync,
  existsSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  deleteSecurely,
  openDatabase,
  runtimeDriverName,
  StorageError,
  type Migration,
  type OpenOptions,
} from '../../../src/storage/index.js';
import { isRoot, mountTmpfs, snapshot } from '../../helpers/files.js';
import { startProcess } from '../../helpers/process.js';
import { tempDir } from '../../helpers/tmp.js';

const migrations: Migration[] = [
  { version: 1, name: 'items', up: 'CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)' },
];
const MARK = 0x54455354;
const runtime = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined' ? 'bun' : 'node';

/** A healthy database with rows, closed (as after a clean stop). */
async function healthyDb(dir: string, rows = 50): Promise<string> {
  const path = join(dir, 'edge.db');
  const { db } = await openDatabase({ path, migrations, applicationId: MARK });
  db.transaction(() => {
    for (let i = 0; i < rows; i++) db.prepare('INSERT INTO items (name) VALUES (?)').run(`row-${i}-${'x'.repeat(200)}`);
  });
  db.close();
  return path;
}

async function openError(options: OpenOptions): Promise<StorageError> {
  const error = await openDatabase(options).then(
    ({ db }) => {
      db.close();
      return new Error('opened');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StorageError);
  return error as StorageError;
}

async function rowCount(path: string): Promise<number> {
  const { db, recovered } = await openDatabase({ path, migrations, applicationId: MARK });
  expect(recovered).toBeUndefined();
  const count = db.prepare<{ n: number }>('SELECT COUNT(*) AS n FROM items').get()!.n;
  db.close();
  return Number(count);
}

/** Fills the file system holding `dir` to the last byte. */
function fillDisk(dir: string): string {
  const filler = join(dir, 'filler');
  const fd = openSync(filler, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
  for (let size = 4096; ; ) {
    try {
      writeFileSync(join(dir, 'crumb'), Buffer.alloc(size), { flag: 'a' });
    } catch {
      if (size === 1) break;
      size = Math.max(1, size >> 1);
    }
  }
  return filler;
}

describe(`storage faults on ${runtime} (${runtimeDriverName()})`, () => {
  const tmpfs = mountTmpfs('2m');
  it.skipIf(!tmpfs.dir)(
    `a full disk leaves every file untouched and says so${tmpfs.why ? ` (${tmpfs.why})` : ''}`,
    async () => {
      const dir = join(tmpfs.dir!, 'full');
      mkdirSync(dir, { mode: 0o700 });
      const path = await healthyDb(dir);
      const filler = fillDisk(tmpfs.dir!);
      const before = snapshot(dir);
      const error = await openError({ path, migrations, applicationId: MARK });
      expect(error.code).toBe('DISK_FULL');
      expect(error.message).toMatch(/disk is full.*nothing was changed/);
      expect(snapshot(dir)).toEqual(before);
      rmSync(filler);
      rmSync(join(tmpfs.dir!, 'crumb'));
      expect(await rowCount(path)).toBe(50);
    },
  );

  it('a lock held by another process leaves every file untouched and says so', async () => {
    const dir = tempDir();
    const path = await healthyDb(dir);
    // Always Node (from PATH, since under Bun process.execPath is bun): the holder uses better-sqlite3.
    const holder = startProcess('node', ['--import', 'tsx', 'test/helpers/hold-sqlite-lock.ts', path]);
    await holder.waitForLine((line) => line.locked === true);
    const before = snapshot(dir);
    try {
      const error = await openError({ path, migrations, applicationId: MARK });
      expect(error.code).toBe('DATABASE_LOCKED');
      expect(error.message).toMatch(/another process holds a lock.*nothing was changed/);
      expect(snapshot(dir)).toEqual(before);
      // A read-only open may read the last committed state past the lock, or wait and fail; it changes no file.
      // (SQLite may add its -shm index, which holds no data and is owned like the database.)
      const looked = await openDatabase({ path, migrations, applicationId: MARK, readOnly: true }).then(
        ({ db }) => {
          db.close();
          return undefined;
        },
        (e: unknown) => e,
      );
      if (looked) expect((looked as StorageError).code).toBe('DATABASE_LOCKED');
      const { 'edge.db-shm': _index, ...after } = snapshot(dir);
      expect(after).toEqual(before);
    } finally {
      await holder.kill('SIGKILL');
    }
    expect(await rowCount(path)).toBe(50);
  });

  const roFs = mountTmpfs('2m');
  it.skipIf(!roFs.dir)(
    `a read-only file system leaves the file as it is${roFs.why ? ` (${roFs.why})` : ''}`,
    async () => {
      const path = await healthyDb(roFs.dir!);
      execFileSync('mount', ['-o', 'remount,ro', roFs.dir!]);
      try {
        const before = snapshot(roFs.dir!);
        const error = await openError({ path, migrations, applicationId: MARK });
        expect(error.code).toBe('READ_ONLY');
        expect(snapshot(roFs.dir!)).toEqual(before);
      } finally {
        execFileSync('mount', ['-o', 'remount,rw', roFs.dir!]);
      }
      expect(await rowCount(path)).toBe(50);
    },
  );

  it('a planted -wal or -shm link is refused, never taken for corruption; the target is untouched', async () => {
    for (const side of ['-wal', '-shm']) {
      const dir = tempDir();
      const path = await healthyDb(dir);
      const target = join(tempDir(), 'victim');
      writeFileSync(target, 'precious', { mode: 0o644 });
      symlinkSync(target, path + side);
      const before = snapshot(dir);
      const error = await openError({ path, migrations, applicationId: MARK });
      expect(error.code).toBe('UNSAFE_PATH');
      expect(error.message).toContain(`${path}${side}: it is a symbolic link to ${target}`);
      expect(snapshot(dir)).toEqual(before);
      expect(readFileSync(target, 'utf8')).toBe('precious');
      expect(statSync(target).mode & 0o777).toBe(0o644);
      rmSync(path + side);
      expect(await rowCount(path)).toBe(50);
    }
  });

  it('a database that is a link, dangling or not, a hard link or a FIFO is refused and nothing is created', async () => {
    const dir = tempDir();
    const path = join(dir, 'edge.db');
    const elsewhere = tempDir();
    const target = join(elsewhere, 'passwd');
    writeFileSync(target, 'root:x:0:0\n', { mode: 0o644 });
    const cases: Array<[string, () => void, RegExp]> = [
      ['link to a file', () => symlinkSync(target, path), /symbolic link to/],
      ['dangling link', () => symlinkSync(join(elsewhere, 'created-by-root'), path), /symbolic link to/],
      ['hard link', () => linkSync(target, path), /2 hard links/],
      ['fifo', () => execFileSync('mkfifo', [path]), /named pipe/],
    ];
    for (const [what, plant, message] of cases) {
      plant();
      const before = snapshot(dir);
      const error = await openError({ path, migrations, applicationId: MARK });
      expect(error.code, what).toBe('UNSAFE_PATH');
      expect(error.message, what).toMatch(message);
      expect(snapshot(dir), what).toEqual(before);
      rmSync(path);
    }
    expect(readFileSync(target, 'utf8')).toBe('root:x:0:0\n');
    expect(statSync(target).mode & 0o777).toBe(0o644);
    expect(existsSync(join(elsewhere, 'created-by-root'))).toBe(false);
  });

  it('a folder other users can write is refused', async () => {
    const dir = tempDir();
    execFileSync('chmod', ['0777', dir]);
    const error = await openError({ path: join(dir, 'edge.db'), migrations });
    expect(error.code).toBe('UNSAFE_PATH');
    expect(error.message).toMatch(/other users can write it \(owner .*, mode 0777\)/);
    expect(snapshot(dir)).toEqual({});

    // A sticky shared folder (/tmp, for a mock's --db) is accepted unless the caller asks for a private one.
    const shared = tempDir();
    execFileSync('chmod', ['1777', shared]);
    const path = join(shared, 'mock.db');
    (await openDatabase({ path, migrations })).db.close();
    expect((await openError({ path, migrations, trust: { privateFolder: true } })).code).toBe('UNSAFE_PATH');
  });

  it.skipIf(!isRoot)(
    'a folder or file owned by an unexpected user is refused, naming owner and mode (needs root to chown)',
    async () => {
      const dir = tempDir();
      chownSync(dir, 4242, 4242);
      let error = await openError({ path: join(dir, 'edge.db'), migrations });
      expect(error.code).toBe('UNSAFE_PATH');
      expect(error.message).toMatch(/unexpected user \(owner uid 4242, mode 0700; expected root \(uid 0\)/);
      expect(snapshot(dir)).toEqual({});

      const own = tempDir();
      const path = await healthyDb(own);
      chownSync(path, 4242, 4242);
      error = await openError({ path, migrations, applicationId: MARK });
      expect(error.code).toBe('UNSAFE_PATH');
      expect(error.message).toMatch(/edge\.db: it belongs to an unexpected user \(owner uid 4242, mode 0600/);
    },
  );

  it('a foreign SQLite file is refused, not migrated; an unmarked file of ours is adopted', async () => {
    const dir = tempDir();
    const path = join(dir, 'edge.db');
    const foreign = await openDatabase({
      path,
      migrations: [{ version: 1, name: 'x', up: 'CREATE TABLE accounts (id INTEGER)' }],
    });
    foreign.db.close();
    const before = snapshot(dir);
    const error = await openError({ path, migrations, applicationId: MARK });
    expect(error.code).toBe('FOREIGN_DATABASE');
    expect(error.message).toMatch(/did not make \(application_id 0, tables: accounts\)/);
    expect(snapshot(dir)).toEqual(before);

    const adopted = await openDatabase({
      path,
      migrations,
      applicationId: MARK,
      isLegacyFile: (db) => db.prepare("SELECT 1 FROM sqlite_schema WHERE name = 'accounts'").get() !== undefined,
    });
    expect(adopted.db.prepare<{ application_id: number }>('PRAGMA application_id').get()?.application_id).toBe(MARK);
    adopted.db.close();
  });

  it('read-only opens create, move and migrate nothing', async () => {
    const missing = join(tempDir(), 'never');
    const empty = await openDatabase({ path: join(missing, 'edge.db'), migrations, readOnly: true });
    expect(empty.absent).toBe(true);
    expect(empty.db.prepare('SELECT COUNT(*) AS n FROM items').get()).toEqual({ n: 0 });
    empty.db.close();
    expect(existsSync(missing)).toBe(false);

    const dir = tempDir();
    writeFileSync(join(dir, 'edge.db'), Buffer.alloc(8192, 0x5a));
    const before = snapshot(dir);
    const error = await openError({ path: join(dir, 'edge.db'), migrations, readOnly: true });
    expect(error.code).toBe('DATABASE_CORRUPT');
    expect(error.message).toMatch(/nothing was moved/);
    expect(snapshot(dir)).toEqual(before);
  });

  it.skipIf(!isRoot)(
    'files root creates in a folder the service user owns belong to that user, -wal and -shm too (needs root)',
    async () => {
      const dir = tempDir();
      chownSync(dir, 65534, 65534);
      const { db } = await openDatabase({ path: join(dir, 'edge.db'), migrations, trust: { extraOwners: [65534] } });
      db.prepare('INSERT INTO items (name) VALUES (?)').run('x');
      for (const name of ['edge.db', 'edge.db-wal', 'edge.db-shm']) {
        expect(statSync(join(dir, name)).uid, name).toBe(65534);
        expect(statSync(join(dir, name)).mode & 0o777, name).toBe(0o600);
      }
      db.close();
    },
  );

  it('secrets deleted securely cannot be carved from the file or its WAL', async () => {
    const dir = tempDir();
    const path = join(dir, 'edge.db');
    const secret = `token-${'S3cr3t'.repeat(20)}`;
    const { db } = await openDatabase({ path, migrations });
    db.transaction(() => {
      for (let i = 0; i < 200; i++)
        db.prepare('INSERT INTO items (name) VALUES (?)').run(`filler-${i}-${'y'.repeat(300)}`);
    });
    db.prepare('INSERT INTO items (name) VALUES (?)').run(secret);
    db.prepare('UPDATE items SET name = ? WHERE name = ?').run(`${secret}-v2`, secret);
    const raw = () =>
      Buffer.concat(['', '-wal', '-shm'].filter((s) => existsSync(path + s)).map((s) => readFileSync(path + s)));
    expect(raw().includes(secret)).toBe(true); // the test can fail: the bytes are there before the scrub
    const { notScrubbed } = deleteSecurely(db, () =>
      db.transaction(() => db.prepare("DELETE FROM items WHERE name LIKE 'token-%'").run()),
    );
    expect(notScrubbed).toBeUndefined();
    expect(raw().includes(secret)).toBe(false);
    db.close();
    expect(readFileSync(path).includes(secret)).toBe(false);
  });
});
