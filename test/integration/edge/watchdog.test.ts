/**
 * The systemd watchdog, end to end with a fake service manager: a real AF_UNIX datagram socket (a python3 helper
 * that prints each datagram) as NOTIFY_SOCKET, and `run` as a real child process on Node (systemd-notify), on Bun
 * and as the compiled binary (both bun:ffi sendto). The device is unpaired and pairs from a URI whose cloud accepts
 * connections and never answers, so `run` stays up without any cloud. READY=1 arrives, WATCHDOG=1 keeps arriving
 * while the event loop runs, stops while the process is stopped (SIGSTOP: a loop that makes no progress), comes
 * back on SIGCONT. Counts are taken over windows and bounded generously.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasNotifyListener, notifications, startNotifyListener } from '../../helpers/notify-listener.js';
import { commandFor, ROOT, startProcess, type Child } from '../../helpers/process.js';
import { tempDir, testHardwareId } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

const BINARY = join(ROOT, 'out/consystence-edge-linux-x64');
const WATCHDOG_USEC = 400_000; // pings every 200 ms
const WINDOW_MS = 3_000;
const ORG = '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0c11';
const SITE = '9b1d2c3e-4f5a-4b6c-8d7e-0f1a2b3c4d5e';

const hasPython = await hasNotifyListener();

let silentCloud: Server;
const held: Socket[] = [];
beforeAll(async () => {
  // Accepts and never answers: pairing waits on its request timeout, then retries, for longer than any test here.
  silentCloud = createServer((socket) => held.push(socket));
  await new Promise<void>((resolve) => silentCloud.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  for (const socket of held) socket.destroy();
  await new Promise((resolve) => silentCloud?.close(resolve));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function startRun(how: 'node' | 'bun' | 'binary', notifySocket: string, env: NodeJS.ProcessEnv = {}): Child {
  const dir = tempDir('cst-watchdog-');
  const uriFile = join(dir, 'pairing-uri');
  const { port } = silentCloud.address() as { port: number };
  const cloud = encodeURIComponent(`http://127.0.0.1:${port}`);
  writeFileSync(uriFile, `consystence-edge://pair?cloud=${cloud}&org=${ORG}&site=${SITE}&code=7kq4-mx29\n`);
  const args = ['run', '--json', '--state-dir', dir, '--hardware-id', testHardwareId(), '--pairing-uri-file', uriFile];
  const entry = how === 'binary' ? { command: BINARY, args: [] } : commandFor(how, 'src/edge/main.ts');
  return startProcess(entry.command, [...entry.args, ...args], {
    env: { NOTIFY_SOCKET: notifySocket, WATCHDOG_USEC: String(WATCHDOG_USEC), ...env },
  });
}

describe.each(['node', 'bun', 'binary'] as const)('systemd watchdog under %s', (how) => {
  it('sends READY, pings while the loop runs, none while it is stopped, again after SIGCONT', async (context) => {
    if (!hasPython) {
      console.log('python3 is not installed: no fake NOTIFY_SOCKET listener, skipping');
      context.skip();
    }
    if (how === 'binary' && !existsSync(BINARY)) {
      console.log(`${BINARY} is missing (npm run build:binary -- --arch x64): skipping the compiled-binary case`);
      context.skip();
    }
    // An abstract socket for the binary, a path for the others: both address forms are exercised.
    const socket = how === 'binary' ? `@cst-notify-${process.pid}-${Date.now()}` : join(tempDir(), 'notify');
    const listener = await startNotifyListener(socket);
    const edge = startRun(how, socket);
    await waitFor(() => notifications(listener, 'READY=1') === 1, { timeoutMs: 30_000, what: 'READY=1' });

    // Running: 15 pings expected per window; anything from 3 to 4x that passes on a loaded machine.
    let before = notifications(listener, 'WATCHDOG=1');
    await sleep(WINDOW_MS);
    const running = notifications(listener, 'WATCHDOG=1') - before;
    expect(running).toBeGreaterThanOrEqual(3);
    expect(running).toBeLessThanOrEqual((4 * WINDOW_MS) / (WATCHDOG_USEC / 2000));

    // Stopped: after in-flight datagrams (and systemd-notify children) are through, not one more ping.
    edge.proc.kill('SIGSTOP');
    await sleep(1_000);
    before = notifications(listener, 'WATCHDOG=1');
    await sleep(WINDOW_MS);
    expect(notifications(listener, 'WATCHDOG=1') - before).toBe(0);

    edge.proc.kill('SIGCONT');
    await waitFor(() => notifications(listener, 'WATCHDOG=1') > before, { what: 'pings after SIGCONT' });

    // STOPPING=1 on a clean shutdown is checked where `run` serves a paired device (first-boot.test.ts); while it
    // pairs, SIGTERM ends it at once.
    await edge.kill('SIGKILL');
    await listener.kill('SIGKILL');
  }, 90_000);
});

describe('systemd watchdog meant for another process', () => {
  it('sends READY but no pings when WATCHDOG_PID names another process', async (context) => {
    if (!hasPython) {
      console.log('python3 is not installed: no fake NOTIFY_SOCKET listener, skipping');
      context.skip();
    }
    const socket = join(tempDir(), 'notify');
    const listener = await startNotifyListener(socket);
    const edge = startRun('bun', socket, { WATCHDOG_PID: '1' });
    await waitFor(() => notifications(listener, 'READY=1') === 1, { timeoutMs: 30_000, what: 'READY=1' });
    await sleep(WINDOW_MS);
    expect(notifications(listener, 'WATCHDOG=1')).toBe(0);
    await edge.kill('SIGTERM');
    await listener.kill('SIGKILL');
  }, 60_000);
});

describe.each([
  ['4294967296000', 'over ~49.7 days, more than a timer can hold'],
  ['1', '1 µs'],
])('systemd watchdog with WATCHDOG_USEC=%s (%s)', (usec) => {
  it('never floods the service manager with pings', async (context) => {
    if (!hasPython) {
      console.log('python3 is not installed: no fake NOTIFY_SOCKET listener, skipping');
      context.skip();
    }
    const socket = join(tempDir(), 'notify');
    const listener = await startNotifyListener(socket);
    const edge = startRun('bun', socket, { WATCHDOG_USEC: usec });
    await waitFor(() => notifications(listener, 'READY=1') === 1, { timeoutMs: 30_000, what: 'READY=1' });
    const before = notifications(listener, 'WATCHDOG=1');
    await sleep(WINDOW_MS);
    // At most one ping per 100 ms (the floor), with room for a loaded machine; the overflow sent ~500 a second.
    expect(notifications(listener, 'WATCHDOG=1') - before).toBeLessThanOrEqual(WINDOW_MS / 100);
    await edge.kill('SIGKILL');
    await listener.kill('SIGKILL');
  }, 60_000);
});
