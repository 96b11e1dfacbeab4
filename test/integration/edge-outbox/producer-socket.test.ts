/**
 * The producer API's Unix socket against what a local user can leave at its path (the runtime may run as root in a
 * directory others write): real files, links, a live server and a stale socket from a SIGKILLed process. Only a
 * stale socket is replaced; everything else is refused, untouched. The socket gets mode 0660 from the umask at
 * bind, whatever the process umask, and no file is ever chmodded by path.
 */
import { lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Outbox } from '../../../src/edge/outbox/index.js';
import { ProducerClient, startProducerServer } from '../../../src/edge/producer/index.js';
import { openDatabase } from '../../../src/storage/index.js';
import { startProcess } from '../../helpers/process.js';
import { tempDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { fixtureMigrations } from './fixtures/open-outbox.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function startOn(socketPath: string) {
  const { db } = await openDatabase({ path: join(tempDir(), 'edge.db'), migrations: fixtureMigrations });
  const outbox = new Outbox(db, { limits: { maxSizeMb: 64, retentionDays: 30 }, sweepIntervalMs: 0 });
  cleanup.push(() => {
    outbox.close();
    db.close();
  });
  const server = await startProducerServer({ outbox, socketPath });
  cleanup.push(() => server.close());
  return server;
}

const rec = { tag: 'line1.flow', ts: '2026-03-01T10:00:00Z', value: 12.5, quality: 'good' as const };

describe('producer socket path', () => {
  it('refuses a regular file at the path and leaves it as it was', async () => {
    const path = join(tempDir(), 'producer.sock');
    writeFileSync(path, 'not yours', { mode: 0o644 });
    await expect(startOn(path)).rejects.toThrow(/is a regular file, not a socket; refusing/);
    expect(readFileSync(path, 'utf8')).toBe('not yours');
    expect(statSync(path).mode & 0o777).toBe(0o644);
  });

  it('refuses a symlink (to a file or dangling) and never touches its target', async () => {
    const dir = tempDir();
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'root-owned secret', { mode: 0o600 });
    const toFile = join(dir, 'to-file.sock');
    symlinkSync(victim, toFile);
    await expect(startOn(toFile)).rejects.toThrow(/is a symbolic link, not a socket/);
    expect(readlinkSync(toFile)).toBe(victim);
    expect(statSync(victim).mode & 0o777).toBe(0o600);
    expect(readFileSync(victim, 'utf8')).toBe('root-owned secret');

    const dangling = join(dir, 'dangling.sock');
    symlinkSync(join(dir, 'created-by-root'), dangling);
    await expect(startOn(dangling)).rejects.toThrow(/is a symbolic link/);
    expect(() => lstatSync(join(dir, 'created-by-root'))).toThrow(/ENOENT/);
  });

  it('refuses a directory at the path', async () => {
    const path = join(tempDir(), 'producer.sock');
    mkdirSync(path);
    await expect(startOn(path)).rejects.toThrow(/is a directory, not a socket/);
    expect(statSync(path).isDirectory()).toBe(true);
  });

  it('refuses a socket another process is listening on, which keeps working', async () => {
    const path = join(tempDir(), 'producer.sock');
    const other = createServer((socket) => {
      socket.on('error', () => {}); // the probe's and the check's early close reset the connection
      socket.end('still mine');
    });
    await new Promise<void>((resolve) => other.listen(path, resolve));
    cleanup.push(() => new Promise<void>((resolve) => other.close(() => resolve())));
    await expect(startOn(path)).rejects.toThrow(/another process is listening/);
    const answer = await new Promise<string>((resolve, reject) => {
      let text = '';
      connect(path)
        .on('data', (part) => (text += part))
        .on('end', () => resolve(text))
        .on('error', reject);
    });
    expect(answer).toBe('still mine');
  });

  it('replaces a stale socket left by a SIGKILLed process, with mode 0660 whatever the umask', async () => {
    const path = join(tempDir(), 'producer.sock');
    // A real process that binds the socket and is killed before it can remove it, as by a power cut.
    const dead = startProcess(process.execPath, [
      '-e',
      `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    expect((await dead.exited).signal).toBe('SIGKILL');
    await waitFor(() => lstatSync(path).isSocket(), { what: 'the stale socket' });

    const previous = process.umask(0o022); // would give 0755 without the server's own umask
    try {
      await startOn(path);
    } finally {
      process.umask(previous);
    }
    expect(lstatSync(path).mode & 0o777).toBe(0o660);
    expect((await new ProducerClient({ socketPath: path }).telemetry([rec])).seq).toBe(1);
  });

  it('puts the process umask back after creating the socket', async () => {
    const previous = process.umask(0o027);
    try {
      await startOn(join(tempDir(), 'producer.sock'));
      expect(process.umask()).toBe(0o027);
    } finally {
      process.umask(previous);
    }
  });
});
