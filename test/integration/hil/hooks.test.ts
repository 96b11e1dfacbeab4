/**
 * Rig hooks run as real `sh -c` processes in their own process group: a hook that times out, or is stopped by
 * the run's abort (Ctrl-C), takes everything it started with it. Each hook here starts a `sleep` with a
 * test-unique duration behind a `;`, so the shell forks it (no exec) and it can be found in /proc afterwards.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runHook } from '../../../src/common/process/process.js';

function uniqueSleep(): string {
  return `${300 + Math.floor(Math.random() * 1000)}.${process.pid}`;
}

/** PIDs of live processes whose command line is exactly `sleep <seconds>`. */
function sleepers(seconds: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8') === `sleep\0${seconds}\0`) found.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

/** Waits (bounded) for `sleepers(seconds)` to have `count` entries: a signalled process takes a moment to die. */
async function untilSleepers(seconds: string, count: number): Promise<number[]> {
  const deadline = Date.now() + 5_000;
  while (sleepers(seconds).length !== count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return sleepers(seconds);
}

describe('rig hooks', () => {
  it('a hook that times out is stopped with every process it started', async () => {
    const seconds = uniqueSleep();
    await expect(runHook('power-cycle', `sleep ${seconds}; true`, 1_000)).rejects.toThrow(
      /power-cycle hook did not finish within 1000 ms/,
    );
    expect(await untilSleepers(seconds, 0)).toEqual([]);
  }, 30_000);

  it('a hook stopped by the run (abort) is stopped with every process it started', async () => {
    const seconds = uniqueSleep();
    const abort = new AbortController();
    const running = runHook('net-down', `sleep ${seconds}; true`, 60_000, { signal: abort.signal });
    expect(await untilSleepers(seconds, 1)).toHaveLength(1);
    abort.abort(new Error('stopped by SIGINT'));
    await expect(running).rejects.toThrow(/net-down hook stopped: .*stopped by SIGINT/);
    expect(await untilSleepers(seconds, 0)).toEqual([]);
  }, 30_000);
});
