/**
 * The producer API's Unix socket against what a local user can leave at its path (the runtime may run as root in a
 * directory others write): real files, links, a live server and a stale socket from a SIGKILLed process. Only a
 * stale socket is replaced; everything else is refused, untouched: other processes' datagram and seqpacket
 * sockets, a listener with a full backlog and a socket this user may not open are bound by real python3 children.
 * A path whose directories another user could swap is refused before anything is created there. The socket gets
 * mode 0660 from the umask at bind, whatever the process umask, and no file is ever chmodded by path. `run` with
 * an unusable socket path exits 2 at start, before pairing or connecting.
 */
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Outbox } from '../../../src/edge/outbox/index.js';
import { ProducerClient, startProducerServer } from '../../../src/edge/producer/index.js';
import { openDatabase } from '../../../src/storage/index.js';
import { commandFor, ROOT, runToEnd, startProcess } from '../../helpers/process.js';
import { cannotRunCheckoutAsNobody } from '../../helpers/files.js';
import { hasNotifyListener } from '../../helpers/notify-listener.js';
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

/**
 * A live socket of another kind, bound by a python3 child until the test file ends: a datagram socket (as
 * /dev/log or /run/systemd/notify), a listening seqpacket socket, or a stream listener whose backlog is full.
 */
const FOREIGN_SOCKET = `
import os, socket, sys, time
kind, path = sys.argv[1], sys.argv[2]
types = {"dgram": socket.SOCK_DGRAM, "seqpacket": socket.SOCK_SEQPACKET, "full": socket.SOCK_STREAM}
s = socket.socket(socket.AF_UNIX, types[kind])
s.bind(path)
if kind != "dgram":
    s.listen(0)
queued = []
while kind == "full":
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.setblocking(False)
    try:
        c.connect(path)
        queued.append(c)
    except BlockingIOError:
        break
print("bound", flush=True)
time.sleep(3600)
`;

async function foreignSocket(kind: 'dgram' | 'seqpacket' | 'full', path: string) {
  const child = startProcess('python3', ['-c', FOREIGN_SOCKET, kind, path]);
  cleanup.push(async () => {
    await child.kill('SIGKILL');
  });
  await child.waitForLine((line) => line.text === 'bound');
}

const hasPython = await hasNotifyListener();
const canSwitchUser = !cannotRunCheckoutAsNobody;

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

  it.runIf(hasPython).each(['dgram', 'seqpacket', 'full'] as const)(
    "refuses another process's live %s socket and leaves it in place",
    async (kind) => {
      const path = join(tempDir(), 'producer.sock');
      await foreignSocket(kind, path);
      const before = lstatSync(path);
      await expect(startOn(path)).rejects.toThrow(/not a stale producer socket \(connect: E[A-Z]+\); refusing/);
      expect(lstatSync(path).ino).toBe(before.ino);
    },
  );

  it.runIf(canSwitchUser)(
    'refuses a socket the service user may not open (EACCES) and leaves it in place',
    async () => {
      const dir = tempDir();
      chmodSync(dir, 0o755);
      const path = join(dir, 'producer.sock');
      const other = createServer();
      await new Promise<void>((resolve) => other.listen(path, resolve));
      cleanup.push(() => new Promise<void>((resolve) => other.close(() => resolve())));
      chmodSync(path, 0o600);
      // The claim runs in a Node child as an unprivileged user: root's connect() never gets EACCES.
      const claim = `import(${JSON.stringify(join(ROOT, 'src/edge/producer/socket-path.ts'))}).then((m) => m.claimSocketPath(${JSON.stringify(path)})).then(() => console.log('claimed'), (e) => console.log(e.message))`;
      const asNobody = ['--reuid=65534', '--regid=65534', '--clear-groups'];
      const result = await runToEnd('setpriv', [...asNobody, process.execPath, '--import', 'tsx', '-e', claim]);
      expect(result.stdout).toMatch(/not a stale producer socket \(connect: EACCES\)/);
      expect(lstatSync(path).isSocket()).toBe(true);
    },
  );

  it('refuses a path whose directory another user could swap, before creating anything there', async () => {
    const base = tempDir();
    const othersDir = join(base, 'others');
    mkdirSync(othersDir);
    chmodSync(othersDir, 0o777);
    await expect(startOn(join(othersDir, 'producer.sock'))).rejects.toThrow(/others is writable by other users/);

    const real = join(base, 'real');
    mkdirSync(real);
    const linked = join(base, 'linked');
    symlinkSync(real, linked);
    await expect(startOn(join(linked, 'producer.sock'))).rejects.toThrow(/linked is a symbolic link, not a directory/);
    expect(lstatSync(join(real, 'producer.sock'), { throwIfNoEntry: false })).toBeUndefined();
  });

  it.runIf(process.getuid?.() === 0)("refuses a path in another user's directory", async () => {
    const dir = join(tempDir(), 'nobodys');
    mkdirSync(dir, { mode: 0o755 });
    chownSync(dir, 65_534, 65_534);
    await expect(startOn(join(dir, 'producer.sock'))).rejects.toThrow(/nobodys belongs to another user \(uid 65534\)/);
    expect(lstatSync(join(dir, 'producer.sock'), { throwIfNoEntry: false })).toBeUndefined();
  });

  it('`run` exits 2 at start with the reason when the socket path is unusable', async () => {
    const dir = tempDir();
    const path = join(dir, 'producer.sock');
    writeFileSync(path, 'not a socket');
    const { command, args } = commandFor('node', 'src/edge/main.ts');
    const result = await runToEnd(command, [
      ...args,
      'run',
      '--state-dir',
      join(dir, 'state'),
      '--hardware-id',
      'rig-1',
      '--pairing-uri-file',
      join(dir, 'absent'),
      '--producer-socket',
      path,
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/producer\.sock is a regular file, not a socket; refusing/);
    expect(readFileSync(path, 'utf8')).toBe('not a socket');
  });
});

describe.skipIf(hasPython && canSwitchUser)('producer socket path (partly skipped)', () => {
  it('needs python3 (foreign socket kinds) and root with setpriv on a checkout other users can read (EACCES, another user)', () => {
    console.log(
      'some producer-socket tests skipped: they need python3, and root with setpriv on a checkout `nobody` can read',
    );
  });
});
