/**
 * Entry of one fleet worker process (Node via tsx, or Bun): reads commands from stdin, runs them on its
 * `FleetShard`, answers on stdout, one JSON line each. Commands run one at a time, in order (the parent drives
 * phases). When stdin closes (the parent exited, crashed or was killed) the worker stops its edges and leaves,
 * so no worker outlives its parent; a second close path is SIGTERM/SIGINT, handled the same way.
 */
import { createInterface } from 'node:readline';
import { procStats } from './proc-stats.js';
import { WorkerCommand, type WorkerLine } from './protocol.js';
import { FleetShard } from './shard.js';

/** A stop that hangs (a stuck SQLite close, a socket that will not end) must not keep the worker alive. */
const STOP_GRACE_MS = 15_000;

function write(line: WorkerLine): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function memory() {
  const usage = process.memoryUsage();
  const proc = procStats('self');
  const mb = (b: number) => Math.round((b / 1024 / 1024) * 10) / 10;
  return {
    rssMb: proc?.rssMb ?? mb(usage.rss),
    rssPeakMb: proc?.rssPeakMb ?? mb(usage.rss),
    heapUsedMb: mb(usage.heapUsed),
    fds: proc?.fds ?? null,
  };
}

async function run(): Promise<void> {
  let shard: FleetShard | null = null;
  const need = () => {
    if (!shard) throw new Error('init first');
    return shard;
  };
  let leaving = false;
  const leave = (code: number) => {
    if (leaving) return;
    leaving = true;
    setTimeout(() => process.exit(code), STOP_GRACE_MS).unref();
    // The parent only needs this process gone; a shard that fails to stop cleanly is ended by the exit.
    (shard?.stop() ?? Promise.resolve()).then(
      () => process.exit(code),
      () => process.exit(code),
    );
  };
  process.on('SIGTERM', () => leave(0));
  process.on('SIGINT', () => leave(0));

  const lines = createInterface({ input: process.stdin });
  lines.on('close', () => leave(0));
  for await (const text of lines) {
    let id = -1;
    try {
      const command = WorkerCommand.parse(JSON.parse(text));
      id = command.id;
      let result: unknown;
      switch (command.cmd) {
        case 'init':
          shard = new FleetShard(command.init, (t) => write({ event: 'progress', text: t }));
          result = {
            pid: process.pid,
            runtime: typeof (globalThis as { Bun?: unknown }).Bun === 'undefined' ? `node ${process.version}` : 'bun',
          };
          break;
        case 'pair':
          result = await need().pair();
          break;
        case 'start':
          result = await need().start();
          break;
        case 'waitOnline':
          result = await need().waitOnline(command.timeoutMs);
          break;
        case 'stream':
          result = await need().stream(command.rate, command.durationS);
          break;
        case 'markDown':
          result = need().markDown();
          break;
        case 'waitOffline':
          result = await need().waitOffline(command.timeoutMs);
          break;
        case 'waitBack':
          result = await need().waitBack(command.restartAt, command.timeoutMs);
          break;
        case 'memory':
          result = memory();
          break;
      }
      write({ id, ok: true, result });
    } catch (error) {
      write({ id, ok: false, error: (error as Error).message });
    }
  }
}

run().catch((error: unknown) => {
  process.stderr.write(`fleet worker failed: ${(error as Error).message}\n`);
  process.exit(1);
});
