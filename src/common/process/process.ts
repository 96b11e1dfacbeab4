/**
 * Child processes the HIL rig and the benches start: the device under test, hooks, helper commands, mocks.
 * Output is kept (bounded) for diagnostics, stdout is parsed as JSON lines where it can be, and every wait on a
 * process has a deadline. Nothing here is global: whoever starts a process owns it and kills it in its own cleanup.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { TimeoutError } from '../time/timeout-error.js';

/** Lines kept per stream: enough for a diagnosis, bounded so a chatty device cannot exhaust the rig's memory. */
const MAX_LINES = 2000;

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to stdin, which is then closed (e.g. a pairing URI for `pair --uri -`). */
  input?: string;
  /**
   * Start it as the leader of its own process group and signal the whole group: a shell command's children
   * (`sh -c 'relay.sh; sleep 300'`) are then stopped with it instead of living on under PID 1.
   */
  ownGroup?: boolean;
}

function pushBounded<T>(list: T[], item: T): void {
  list.push(item);
  if (list.length > MAX_LINES) list.splice(0, list.length - MAX_LINES);
}

export function parseJsonLine(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The last stdout line as a JSON object (whatever came before it, e.g. a banner, is ignored), or null. */
export function parseLastJson(stdout: string): Record<string, unknown> | null {
  return parseJsonLine(stdout.trim().split('\n').at(-1) ?? '');
}

export class RunningProcess {
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<ExitInfo>;
  private exit: ExitInfo | null = null;
  private readonly waiters = new Set<() => void>();
  private readonly proc: ChildProcess;
  private readonly ownGroup: boolean;

  constructor(
    readonly command: string,
    readonly args: string[],
    options: SpawnOptions = {},
  ) {
    this.ownGroup = options.ownGroup ?? false;
    this.proc = spawn(command, args, {
      detached: this.ownGroup,
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (options.input !== undefined) {
      // EPIPE when the command exits without reading stdin is not our failure: the exit code tells the story.
      this.proc.stdin!.on('error', () => undefined);
      this.proc.stdin!.end(options.input);
    }
    const wake = () => this.waiters.forEach((w) => w());
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      pushBounded(this.stdout, line);
      wake();
    });
    createInterface({ input: this.proc.stderr! }).on('line', (line) => {
      pushBounded(this.stderr, line);
      wake();
    });
    this.exited = new Promise((resolve) => {
      // 'error' (e.g. ENOENT) comes instead of 'exit' when the command cannot start at all.
      this.proc.once('error', (error) => {
        pushBounded(this.stderr, `spawn failed: ${error.message}`);
        this.exit ??= { code: 127, signal: null };
        wake();
        resolve(this.exit);
      });
      this.proc.once('exit', (code, signal) => {
        this.exit ??= { code, signal };
        wake();
        resolve(this.exit);
      });
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  get exitInfo(): ExitInfo | null {
    return this.exit;
  }

  /** stdout lines that are JSON objects. */
  jsonLines(): Array<Record<string, unknown>> {
    return this.stdout.map(parseJsonLine).filter((l): l is Record<string, unknown> => l !== null);
  }

  /** Waits for a JSON stdout line matching `match` (lines seen before the call count). */
  waitForJson(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      let seen = 0;
      const finish = (fn: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        fn();
      };
      const check = () => {
        for (; seen < this.stdout.length; seen++) {
          const line = parseJsonLine(this.stdout[seen]!);
          if (line && match(line)) return finish(() => resolve(line));
        }
        if (this.exit)
          finish(() =>
            reject(
              new Error(
                `the process exited (${JSON.stringify(this.exit)}) before ${what}; stderr tail: ${this.stderr.slice(-5).join(' | ')}`,
              ),
            ),
          );
      };
      const timer = setTimeout(
        () => finish(() => reject(new TimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}`))),
        timeoutMs,
      );
      this.waiters.add(check);
      check();
    });
  }

  /**
   * Sends `signal`; escalates to SIGKILL after `graceMs`. Resolves with how it ended. With `ownGroup` the whole
   * group is signalled, and whatever is left of it once the leader has exited is killed.
   */
  async terminate(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<ExitInfo> {
    if (this.exit && !this.ownGroup) return this.exit;
    this.kill(signal);
    const timer = signal === 'SIGKILL' ? undefined : setTimeout(() => this.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
      if (this.ownGroup) this.kill('SIGKILL');
    }
  }

  private kill(signal: NodeJS.Signals): void {
    if (!this.ownGroup || this.proc.pid === undefined) {
      this.proc.kill(signal);
      return;
    }
    try {
      process.kill(-this.proc.pid, signal);
    } catch {
      // ESRCH: the group is already gone, which is what we wanted.
    }
  }
}

export interface CommandResult extends ExitInfo {
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
}

/** How long a stopped hook's process group gets between SIGTERM and SIGKILL. */
const HOOK_GRACE_MS = 5_000;

/**
 * Runs a command to completion, killed after `timeoutMs` (then `timedOut` is true) or when `signal` aborts. With
 * `ownGroup` it gets SIGTERM first and SIGKILL after `HOOK_GRACE_MS`, group-wide; otherwise SIGKILL at once.
 */
export async function runCommand(
  command: string,
  args: string[],
  options: SpawnOptions & { timeoutMs: number; signal?: AbortSignal; onStart?: (proc: RunningProcess) => void },
): Promise<CommandResult> {
  const started = Date.now();
  const proc = new RunningProcess(command, args, options);
  options.onStart?.(proc);
  let timedOut = false;
  // terminate() only rejects if the process was already gone; there is nothing to do about that.
  const stop = (): void => {
    proc.terminate(options.ownGroup ? 'SIGTERM' : 'SIGKILL', HOOK_GRACE_MS).catch(() => {});
  };
  const timer = setTimeout(() => {
    timedOut = true;
    stop();
  }, options.timeoutMs);
  if (options.signal?.aborted) stop();
  options.signal?.addEventListener('abort', stop);
  const exit = await proc.exited;
  clearTimeout(timer);
  options.signal?.removeEventListener('abort', stop);
  // The leader's exit does not end its group: whatever it left behind gets SIGTERM and then SIGKILL.
  if (options.ownGroup) await proc.terminate('SIGTERM', HOOK_GRACE_MS);
  return {
    ...exit,
    stdout: proc.stdout.join('\n'),
    stderr: proc.stderr.join('\n'),
    durationMs: Date.now() - started,
    timedOut,
  };
}

/**
 * Runs a rig hook (`--power-cycle-cmd` and friends) through `sh -c` in its own process group, bounded; throws
 * when it fails. On a timeout or an abort the whole group is stopped, so nothing it started outlives it.
 */
export async function runHook(
  name: string,
  commandLine: string,
  timeoutMs: number,
  options: { env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {},
): Promise<CommandResult> {
  const result = await runCommand('/bin/sh', ['-c', commandLine], {
    timeoutMs,
    ownGroup: true,
    env: { ...process.env, ...options.env },
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (options.signal?.aborted) throw new Error(`${name} hook stopped: ${String(options.signal.reason)}`);
  if (result.timedOut) throw new Error(`${name} hook did not finish within ${timeoutMs} ms: ${commandLine}`);
  if (result.code !== 0)
    throw new Error(`${name} hook failed (exit ${result.code}): ${commandLine}\n${result.stderr.slice(-2000)}`);
  return result;
}
