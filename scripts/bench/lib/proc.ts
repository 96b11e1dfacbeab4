/**
 * Child processes for the benches, on the shared helper (src/common/process): spawned with their own pipes (never
 * the bench's stdout: Bun leaves a shared stdout non-blocking, toolchain trap 7), tracked so every one is killed
 * by its PID when the bench ends, and waited on with a time limit. RSS is read from /proc/<pid>/status (VmRSS) of
 * the process itself.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { RunningProcess, runCommand, type CommandResult, type ExitInfo } from '../../../src/common/process/process.js';

export const ROOT = resolve(import.meta.dirname, '../../..');
export const BUN = resolve(ROOT, 'node_modules/.bin/bun');
export const TSX_LOADER = ['--import', 'tsx'];

const live = new Set<RunningProcess>();

/** Kills every process a bench started that is still running (at the end, or on Ctrl-C). */
export function killAll(): void {
  for (const run of live) {
    try {
      if (run.pid) process.kill(run.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  live.clear();
}

/** Remembered until it exits, so `killAll` reaches it. */
function track(run: RunningProcess): void {
  live.add(run);
  const forget = () => live.delete(run);
  run.exited.then(forget, forget);
}

export interface Child {
  pid: number;
  /** The last 30 stderr lines, for a failure message. */
  readonly stderrTail: string[];
  exited: Promise<ExitInfo>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<ExitInfo>;
  waitForLine(match: (line: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>>;
}

export function start(command: string, args: string[], options: { env?: NodeJS.ProcessEnv } = {}): Child {
  const run = new RunningProcess(command, args, { cwd: ROOT, ...options });
  const pid = run.pid;
  if (!pid) throw new Error(`could not start ${command}`);
  track(run);
  return {
    pid,
    get stderrTail() {
      return run.stderr.slice(-30);
    },
    exited: run.exited,
    stop: (graceMs = 10_000) => run.terminate('SIGTERM', graceMs),
    waitForLine: (match, timeoutMs) => run.waitForJson(match, timeoutMs, `the expected line from ${command}`),
  };
}

/** Runs to the end (bounded, 2 minutes unless told); collects stdout and stderr. */
export function runToEnd(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return runCommand(command, args, {
    cwd: ROOT,
    ...options,
    timeoutMs: options.timeoutMs ?? 120_000,
    onStart: (run) => track(run),
  });
}

/** One `kB` field of /proc/<pid>/status in MiB, or null if the process has gone. */
function statusMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const kb = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : null;
  } catch {
    return null;
  }
}

/** VmRSS of a live process in MiB, or null if it has gone. */
export const vmRssMiB = (pid: number): number | null => statusMiB(pid, 'VmRSS');

/**
 * RSS split into private memory (RssAnon: heaps, JIT code) and clean file-backed pages (RssFile: the executable's
 * code and embedded bytecode, shared and evictable by the kernel), in MiB; null if the process has gone.
 */
export function rssSplitMiB(pid: number): { anon: number; file: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const anon = /RssAnon:\s+(\d+) kB/.exec(status)?.[1];
    const file = /RssFile:\s+(\d+) kB/.exec(status)?.[1];
    return anon && file ? { anon: Number(anon) / 1024, file: Number(file) / 1024 } : null;
  } catch {
    return null;
  }
}

/** VmHWM (peak RSS) of a live process in MiB. */
export const vmHwmMiB = (pid: number): number | null => statusMiB(pid, 'VmHWM');
