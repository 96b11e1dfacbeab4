/**
 * The root CLI against what another local user (the service user first) can plant in the state folder and the
 * pairing-URI path (issue 18.2, 18.3, 18.5; 12.1, 12.6). Every case runs the real CLI as root and checks both the
 * refusal and that nothing outside, or inside, the folder changed. Needs root (chown, other users' files).
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  cannotRunCheckoutAsNobody,
  isRoot,
  named,
  mountTmpfs,
  snapshot as folderSnapshot,
} from '../../helpers/files.js';
import { commandFor, runToEnd, startProcess } from '../../helpers/process.js';
import { tempDir } from '../../helpers/tmp.js';

const NOBODY = 65534;

/**
 * The folder's files but the locks: the run lock, which reset and run take (and may create) before opening
 * anything else, and the registration lock reset also takes.
 */
function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(
    Object.entries(folderSnapshot(dir)).filter(([name]) => !/^(run|registration)\.lock(-wal|-shm)?$/.test(name)),
  );
}
const { command, args: base } = commandFor('node', 'src/edge/main.ts');
const cli = (args: string[], options: { uid?: number; env?: NodeJS.ProcessEnv } = {}) =>
  runToEnd(command, [...base, ...args, '--hardware-id', 'rig-privileged'], { timeoutMs: 60_000, ...options });

/** A state folder with a healthy, keyed edge.db made by the CLI itself. */
async function healthyState(): Promise<string> {
  const dir = tempDir();
  const made = await cli(['reset', '--yes', '--state-dir', dir]);
  expect(made.code, made.stderr).toBe(0);
  return dir;
}

/** A file standing in for /etc/passwd: root's, world-readable, that must keep its bytes and mode. */
function victim(): string {
  const path = join(tempDir(), 'passwd');
  writeFileSync(path, 'root:x:0:0:root:/root:/bin/sh\n', { mode: 0o644 });
  return path;
}

function expectUntouched(path: string, owner = 0): void {
  expect(readFileSync(path, 'utf8')).toBe('root:x:0:0:root:/root:/bin/sh\n');
  expect(statSync(path).mode & 0o777).toBe(0o644);
  expect(statSync(path).uid).toBe(owner);
}

describe.skipIf(!isRoot)('the root CLI against planted files (skipped: needs root)', () => {
  it('edge.db as a link to a root file, a dangling link, or a link to another user’s file is refused', async () => {
    for (const command of [['reset', '--yes'], ['status']]) {
      const target = victim();
      const others = victim();
      chownSync(others, NOBODY, NOBODY);
      const missing = join(tempDir(), 'created-by-root');
      for (const [what, to] of [
        ['root file', target],
        ['dangling', missing],
        ['other user', others],
      ] as const) {
        const dir = tempDir();
        symlinkSync(to, join(dir, 'identity.db'));
        const result = await cli([...command, '--state-dir', dir]);
        expect(result.code, `${command[0]} ${what}`).toBe(6);
        expect(result.stderr).toContain(`${join(dir, 'identity.db')}: it is a symbolic link to ${to}`);
        expect(snapshot(dir)).toEqual({ 'identity.db': expect.stringMatching(/^120777 0 $/) });
      }
      expectUntouched(target);
      expectUntouched(others, NOBODY);
      expect(existsSync(missing)).toBe(false);
    }
  });

  it('planted -wal / -shm links never make a healthy database "corrupt": refused, nothing moved', async () => {
    for (const side of ['-wal', '-shm']) {
      const dir = await healthyState();
      const target = victim();
      symlinkSync(target, join(dir, `identity.db${side}`));
      const before = snapshot(dir);
      for (const command of [['status'], ['reset', '--yes'], ['doctor']]) {
        const result = await cli([...command, '--state-dir', dir]);
        expect(result.code, command[0]).toBe(6);
        expect(result.stderr).toMatch(/is a symbolic link to/);
        expect(result.stderr).not.toMatch(/moved to/);
        expect(snapshot(dir)).toEqual(before);
      }
      expectUntouched(target);
    }
  });

  it('a FIFO, a hard link or a foreign SQLite file as edge.db is refused without blocking or migrating', async () => {
    const fifoDir = tempDir();
    execFileSync('mkfifo', [join(fifoDir, 'identity.db')]);
    const fifo = await cli(['reset', '--yes', '--state-dir', fifoDir]);
    expect(fifo.code).toBe(6);
    expect(fifo.stderr).toMatch(/it is a named pipe/);

    const linkDir = tempDir();
    const target = victim();
    linkSync(target, join(linkDir, 'identity.db'));
    const hard = await cli(['reset', '--yes', '--state-dir', linkDir]);
    expect(hard.code).toBe(6);
    expect(hard.stderr).toMatch(/2 hard links/);
    expectUntouched(target);

    const foreignDir = tempDir();
    execFileSync('sqlite3', [
      join(foreignDir, 'identity.db'),
      'CREATE TABLE accounts (id INTEGER); INSERT INTO accounts VALUES (1);',
    ]);
    const before = snapshot(foreignDir);
    const foreign = await cli(['reset', '--yes', '--state-dir', foreignDir]);
    expect(foreign.code).toBe(6);
    expect(foreign.stderr).toMatch(/SQLite database this program did not make \(application_id 0, tables: accounts\)/);
    expect(snapshot(foreignDir)).toEqual(before);
  });

  it('a world-writable state folder, or one owned by an unexpected user, is refused naming owner and mode', async () => {
    const open = tempDir();
    chmodSync(open, 0o777);
    const wide = await cli(['reset', '--yes', '--state-dir', open]);
    expect(wide.code).toBe(6);
    expect(wide.stderr).toMatch(/other users can write it \(owner root \(uid 0\), mode 0777\)/);
    expect(snapshot(open)).toEqual({});

    const foreign = tempDir();
    chownSync(foreign, 4242, 4242);
    const owned = await cli(['reset', '--yes', '--state-dir', foreign]);
    expect(owned.code).toBe(6);
    expect(owned.stderr).toMatch(/unexpected user \(owner uid 4242, mode 0700/);
    expect(snapshot(foreign)).toEqual({});
  });

  it.skipIf(cannotRunCheckoutAsNobody)(
    named('files the root CLI creates in the service user’s folder belong to that user', cannotRunCheckoutAsNobody),
    async () => {
      const dir = tempDir();
      chownSync(dir, NOBODY, NOBODY);
      const env = { CONSYSTENCE_EDGE_SERVICE_USER: 'nobody' };
      const result = await cli(['reset', '--yes', '--state-dir', dir], { env });
      expect(result.code, result.stderr).toBe(0);
      for (const name of Object.keys(snapshot(dir))) expect(statSync(join(dir, name)).uid, name).toBe(NOBODY);
      // The service user can now open what root made.
      const asService = await cli(['status', '--json', '--state-dir', dir], { uid: NOBODY, env });
      expect(asService.code, asService.stderr).toBe(0);
    },
  );

  it.skipIf(cannotRunCheckoutAsNobody)(
    named(
      'a permission error names the running user and the file’s owner, and changes nothing',
      cannotRunCheckoutAsNobody,
    ),
    async () => {
      const dir = await healthyState();
      chmodSync(dir, 0o755); // nobody may look in, not write
      const before = snapshot(dir);
      const result = await cli(['status', '--state-dir', dir], { uid: NOBODY });
      expect(result.code).toBe(6);
      expect(result.stderr).toMatch(
        /permission denied .*owned by root \(uid 0\), mode 0600; this process runs as nobody \(uid 65534\)/,
      );
      expect(snapshot(dir)).toEqual(before);
    },
  );

  it('a database locked by another process is never taken for damaged or moved aside', async () => {
    const dir = await healthyState();
    const holder = startProcess('node', [
      '--import',
      'tsx',
      'test/helpers/hold-sqlite-lock.ts',
      join(dir, 'identity.db'),
    ]);
    await holder.waitForLine((line) => line.locked === true);
    try {
      // The strict "exit 6, nothing changed" is asserted at the storage level (faults.test.ts); through the CLI,
      // under load, SQLite has been seen to get past this helper's lock after its busy wait. What must never
      // happen either way is the move.
      for (const command of [['status'], ['reset', '--yes']]) {
        const result = await cli([...command, '--state-dir', dir]);
        if (result.code !== 0)
          expect(result.stderr).toMatch(/another process holds a lock on it .*nothing was changed/);
        expect(result.stderr).not.toMatch(/damaged|moved to/);
        expect(readdirSync(dir).filter((name) => name.includes('corrupt'))).toEqual([]);
      }
    } finally {
      await holder.kill('SIGKILL');
    }
  });

  const tmpfs = mountTmpfs('2m');
  it.skipIf(!tmpfs.dir)('a full disk is reported as such and nothing is moved', async () => {
    const dir = join(tmpfs.dir!, 'state');
    mkdirSync(dir, { mode: 0o700 });
    expect((await cli(['reset', '--yes', '--state-dir', dir])).code).toBe(0);
    writeFileSync(join(tmpfs.dir!, 'filler'), Buffer.alloc(0));
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${join(tmpfs.dir!, 'filler')}`, 'bs=64k'], { stdio: 'ignore' });
    } catch {} // dd ends with ENOSPC: the disk is full
    const before = snapshot(dir);
    const result = await cli(['reset', '--yes', '--state-dir', dir]);
    expect(result.code).toBe(6);
    expect(result.stderr).toMatch(/disk is full/);
    expect(snapshot(dir)).toEqual(before);
  });

  it('the pairing-URI path: a FIFO, /dev/zero, a link or an oversized file is refused at once', async () => {
    const fifo = join(tempDir(), 'pairing-uri');
    execFileSync('mkfifo', [fifo]);
    const big = join(tempDir(), 'pairing-uri');
    writeFileSync(big, `consystence-edge://pair?${'a'.repeat(5000)}`);
    const link = join(tempDir(), 'pairing-uri');
    symlinkSync(victim(), link);
    for (const [file, message] of [
      [fifo, /is not a regular file/],
      ['/dev/zero', /is not a regular file/],
      [big, /larger than 4096 bytes/],
      [link, /is a symbolic link/],
    ] as const) {
      const result = await cli(['run', '--state-dir', tempDir(), '--pairing-uri-file', file]);
      expect(result.code, file).toBe(2);
      expect(result.stderr).toMatch(message);
    }
  });
});
