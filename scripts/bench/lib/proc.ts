/**
 * Child processes for the benches: spawned with their own pipes (never the bench's stdout: Bun leaves a shared
 * stdout non-blocking, toolchain trap 7), tracked so every one is killed by its PID when the bench ends, and
 * waited on with a time limit. RSS is read from /proc/<pid>/status (VmRSS) of the process itself.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

export const ROOT = resolve(import.meta.dirname, '../../..');
export const BUN = resolve(ROOT, 'node_modules/.bin/bun');
export const TSX_LOADER = ['--import', 'tsx'];

const live = new Set<ChildProcess>();

export function killAll(): void {
  for (const proc of live) {
    try {
      if (proc.pid) process.kill(proc.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  live.clear();
}

export interface Child {
  proc: ChildProcess;
  pid: number;
  /** JSON lines from stdout (non-JSON lines as {text}). */
  lines: Array<Record<string, unknown>>;
  stderrTail: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitForLine(match: (line: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>>;
}

export function start(command: string, args: string[], options: SpawnOptions = {}): Child {
  const proc = spawn(command, args, { cwd: ROOT, ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  if (!proc.pid) throw new Error(`could not start ${command}`);
  live.add(proc);
  const lines: Array<Record<string, unknown>> = [];
  const stderrTail: string[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: proc.stdout! }).on('line', (text) => {
    let line: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(text);
      line = parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : { text };
    } catch {
      line = { text };
    }
    if (lines.length < 10_000) lines.push(line);
    for (const w of waiters) w();
  });
  createInterface({ input: proc.stderr! }).on('line', (text) => {
    stderrTail.push(text);
    if (stderrTail.length > 30) stderrTail.shift();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
    proc.once('exit', (code, signal) => {
      live.delete(proc);
      for (const w of waiters) w();
      resolveExit({ code, signal });
    });
  });
  let done = false;
  void exited.then(() => (done = true));
  return {
    proc,
    pid: proc.pid,
    lines,
    stderrTail,
    exited,
    async stop(graceMs = 10_000) {
      if (done) return exited;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
    waitForLine(match, timeoutMs) {
      return new Promise((resolveLine, reject) => {
        const check = () => {
          const found = lines.find(match);
          if (found) return finish(() => resolveLine(found));
          if (done)
            finish(() =>
              reject(
                new Error(`${command} exited before the expected line; stderr:\n${stderrTail.slice(-8).join('\n')}`),
              ),
            );
        };
        const timer = setTimeout(
          () => finish(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for a line from ${command}`))),
          timeoutMs,
        );
        const finish = (fn: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          fn();
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** Runs to the end (bounded); collects stdout and stderr. */
export async function runToEnd(
  command: string,
  args: string[],
  options: SpawnOptions & { timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(command, args, { cwd: ROOT, ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d) => (stdout += d));
  proc.stderr!.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => proc.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  const code = await new Promise<number | null>((r) => proc.once('close', (c) => r(c)));
  clearTimeout(timer);
  live.delete(proc);
  return { code, stdout, stderr };
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
