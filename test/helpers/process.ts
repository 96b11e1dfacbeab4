/**
 * Real child processes for integration and e2e tests: start a TypeScript entry under Node (tsx) or Bun, read
 * its JSON-line stdout, wait for a line with a timeout, and kill it (SIGTERM or SIGKILL). Every process started
 * here is killed when the test file ends, so no test leaks a server into the next.
 *
 * Not yet on src/common/process (which the rig and the benches share): tests keep every stdout line (the shared
 * helper keeps a bounded tail), match non-JSON lines as `{ text }`, and reach `proc` directly. Moving them needs
 * those three as options of `RunningProcess`; until then this is the one other copy.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll } from 'vitest';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BUN = resolve(ROOT, 'node_modules/.bin/bun');
export type Runtime = 'node' | 'bun';

export interface Child {
  proc: ChildProcess;
  /** Every stdout line parsed as JSON (non-JSON lines are kept as `{ text }`). */
  lines: Array<Record<string, unknown>>;
  stderr: string[];
  waitForLine(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const live = new Set<ChildProcess>();
afterAll(() => {
  for (const proc of live) proc.kill('SIGKILL');
});

/** The command that runs a TypeScript entry file under the given runtime. */
export function commandFor(runtime: Runtime, entry: string): { command: string; args: string[] } {
  const file = resolve(ROOT, entry);
  return runtime === 'bun'
    ? { command: BUN, args: [file] }
    : { command: process.execPath, args: ['--import', 'tsx', file] };
}

export function startProcess(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Child {
  const proc = spawn(command, args, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
  const lines: Array<Record<string, unknown>> = [];
  const stderr: string[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: proc.stdout! }).on('line', (text) => {
    let parsed: Record<string, unknown>;
    try {
      const value = JSON.parse(text);
      parsed = value && typeof value === 'object' ? value : { text };
    } catch {
      parsed = { text };
    }
    lines.push(parsed);
    for (const wake of waiters) wake();
  });
  createInterface({ input: proc.stderr! }).on('line', (text) => {
    stderr.push(text);
    for (const wake of waiters) wake();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
    proc.on('exit', (code, signal) => {
      live.delete(proc);
      for (const wake of waiters) wake();
      resolveExit({ code, signal });
    });
  });
  let exitState: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  // `exited` only ever resolves.
  exited.then(
    (state) => (exitState = state),
    () => {},
  );

  const child: Child = {
    proc,
    lines,
    stderr,
    exited,
    waitForLine(match, timeoutMs = 15_000) {
      return new Promise((resolveLine, reject) => {
        let seen = 0;
        const check = () => {
          for (; seen < lines.length; seen++) {
            if (match(lines[seen]!)) {
              cleanup();
              resolveLine(lines[seen]!);
              return;
            }
          }
          if (exitState) {
            cleanup();
            reject(
              new Error(
                `process exited (${JSON.stringify(exitState)}) before the expected line.\nstdout: ${JSON.stringify(lines.slice(-10))}\nstderr: ${stderr.slice(-20).join('\n')}`,
              ),
            );
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(
            new Error(
              `timed out after ${timeoutMs} ms waiting for a line.\nstdout: ${JSON.stringify(lines.slice(-10))}\nstderr: ${stderr.slice(-20).join('\n')}`,
            ),
          );
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async kill(signal = 'SIGTERM') {
      if (exitState) return exitState;
      proc.kill(signal);
      return exited;
    },
  };
  return child;
}

/** Starts a TypeScript entry (path relative to the repo root) under a runtime. */
export function startEntry(
  runtime: Runtime,
  entry: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Child {
  const { command, args: base } = commandFor(runtime, entry);
  return startProcess(command, [...base, ...args], options);
}

/** Runs a command to completion and returns its output. */
export async function runToEnd(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; uid?: number; gid?: number } = {},
) {
  const proc = spawn(command, args, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.uid !== undefined ? { uid: options.uid, gid: options.gid ?? options.uid } : {}),
  });
  live.add(proc);
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d) => (stdout += d));
  proc.stderr!.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => proc.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  const [code, signal] = (await once(proc, 'exit')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  live.delete(proc);
  return { code, signal, stdout, stderr };
}
