/**
 * The watch socket against real Unix-socket clients (and the real `watch` CLI as a child process): a client that
 * resets, one that never reads and a ninth watcher must never stop the service or hold its slots.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../../src/common/log/log.js';
import {
  MAX_UNSENT_BYTES,
  MAX_WATCHERS,
  WatchServer,
  watchSocketPath,
} from '../../../../src/edge/diagnostics/watch-server.js';
import type { TrafficLine } from '../../../../src/edge/diagnostics/traffic-summary.js';
import { commandFor, runToEnd } from '../../../helpers/process.js';
import { tempDir } from '../../../helpers/tmp.js';
import { waitFor } from '../../../helpers/wait.js';

const line: TrafficLine = {
  ts: new Date().toISOString(),
  direction: 'out',
  topic: 'S/site/E/edge/telemetry',
  bytes: 4096,
  summary: 'x'.repeat(4000),
};

async function open(path: string): Promise<Socket> {
  const socket = connect(path);
  socket.on('error', () => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

describe('watch socket', () => {
  const servers: WatchServer[] = [];
  const sockets: Socket[] = [];
  const children: ChildProcess[] = [];
  const start = async () => {
    const events: string[] = [];
    const stateDir = tempDir('cst-watch-');
    const server = new WatchServer(stateDir, createLogger({ write: (l) => events.push(l) }));
    await server.start();
    servers.push(server);
    return { server, stateDir, path: watchSocketPath(stateDir), events };
  };
  const client = async (path: string) => {
    const socket = await open(path);
    sockets.push(socket);
    return socket;
  };
  afterEach(async () => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
    for (const socket of sockets.splice(0)) socket.destroy();
    for (const server of servers.splice(0)) await server.close();
  });

  it('keeps running when a refused ninth watcher resets its connection without reading', async () => {
    const { server, path } = await start();
    for (let i = 0; i < MAX_WATCHERS; i++) await client(path);
    // The tester's crash: the ninth writes into the socket and closes unread, so the service's socket resets.
    // Another process with a small receive buffer writes 64 KiB and closes without reading (the tester's script).
    const ninth = spawn('python3', [
      '-c',
      `import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096); s.connect(sys.argv[1])
s.sendall(bytes(65536)); time.sleep(0.3); s.close()`,
      path,
    ]);
    children.push(ninth);
    expect((await once(ninth, 'exit'))[0], 'the python client failed').toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // An unhandled 'error' would have failed this test (vitest reports it); the service still serves its watchers.
    const watcher = sockets[0]!;
    const got = new Promise<string>((resolve) => watcher.once('data', (d: Buffer) => resolve(d.toString())));
    server.publish(line);
    expect(await got).toContain('telemetry');
  });

  it('drops watchers that never read once their unsent lines pass the cap, so their slots free', async () => {
    const { server, path, events } = await start();
    // Another process opens every slot and never reads, as the tester's idle clients did.
    const idle = spawn(
      process.execPath,
      [
        '-e',
        `const net = require('node:net');
         let open = 0;
         for (let i = 0; i < ${MAX_WATCHERS}; i++) {
           const s = net.connect(process.argv[1], () => { s.pause(); if (++open === ${MAX_WATCHERS}) console.log('ready'); });
           s.on('error', () => {});
         }
         setInterval(() => {}, 1000);`,
        path,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(idle);
    await new Promise<void>((resolve) => idle.stdout!.once('data', () => resolve()));
    await waitFor(() => server.watchers === MAX_WATCHERS, { timeoutMs: 10_000, what: 'the idle watchers' });
    await waitFor(
      () => {
        for (let i = 0; i < 64; i++) server.publish(line);
        return server.watchers === 0;
      },
      { timeoutMs: 30_000, intervalMs: 20, what: 'the idle watchers to be dropped' },
    );
    expect(events.some((e) => e.includes('watch_client_dropped') && e.includes(String(MAX_UNSENT_BYTES)))).toBe(true);
    const fresh = await client(path);
    const got = new Promise<string>((resolve) => fresh.once('data', (d: Buffer) => resolve(d.toString())));
    server.publish(line);
    expect(await got).toContain('telemetry');
  });

  it('the watch CLI tells a refused ninth watcher why, plainly, and exits 1', async () => {
    const { stateDir, path } = await start();
    for (let i = 0; i < MAX_WATCHERS; i++) await client(path);
    const { command, args } = commandFor('node', 'src/edge/main.ts');
    const result = await runToEnd(command, [...args, 'watch', '--state-dir', stateDir], { timeoutMs: 60_000 });
    expect(result.stderr).toContain(`${MAX_WATCHERS} watch sessions are already open; close one`);
    expect(result.stderr).not.toContain('closed the feed');
    expect(result.stdout).toBe('');
    expect(result.code).toBe(1);
  });
});
