/**
 * The parent's handle on one fleet worker process: spawn it (Node via tsx, or Bun), send a command, await its
 * reply with a deadline, kill it. A worker that exits fails every pending and later call at once with its
 * stderr tail, so a crash surfaces as a reason, not a wait until the deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { z } from 'zod';
import { REPO_ROOT } from '../targets/paths.js';
import { TimeoutError } from '../../common/time/timeout-error.js';
import { Replies, WorkerLine, type WorkerRequest } from './protocol.js';

export type WorkerRuntime = 'node' | 'bun';

const ENTRY = resolve(REPO_ROOT, 'src/hil/fleet/worker-main.ts');
const BUN = resolve(REPO_ROOT, 'node_modules/.bin/bun');
const STDERR_LINES = 50;

export function workerCommand(runtime: WorkerRuntime, maxOldSpaceMb: number): { command: string; args: string[] } {
  return runtime === 'bun'
    ? { command: BUN, args: [ENTRY] }
    : // A worker holds up to a few thousand runtimes: Node's default old space (≈2–4 GB) is the first wall it meets.
      { command: process.execPath, args: [`--max-old-space-size=${maxOldSpaceMb}`, '--import', 'tsx', ENTRY] };
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class WorkerClient {
  readonly stderr: string[] = [];
  private readonly proc: ChildProcess;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private exitReason: string | null = null;
  readonly exited: Promise<void>;

  constructor(
    readonly index: number,
    runtime: WorkerRuntime,
    maxOldSpaceMb: number,
    onProgress: (text: string) => void,
  ) {
    const { command, args } = workerCommand(runtime, maxOldSpaceMb);
    this.proc = spawn(command, args, { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    // The worker may die while we write to it; its exit (below) is what callers hear about.
    this.proc.stdin!.on('error', () => undefined);
    createInterface({ input: this.proc.stdout! }).on('line', (text) => this.onLine(text, onProgress));
    createInterface({ input: this.proc.stderr! }).on('line', (text) => {
      this.stderr.push(text);
      if (this.stderr.length > STDERR_LINES) this.stderr.shift();
    });
    this.exited = new Promise((done) => {
      const onEnd = (why: string) => {
        this.exitReason ??= why;
        for (const [id, p] of this.pending) {
          clearTimeout(p.timer);
          p.reject(
            new Error(
              `worker ${index} ${this.exitReason} during a call; stderr tail: ${this.stderr.slice(-5).join(' | ')}`,
            ),
          );
          this.pending.delete(id);
        }
        done();
      };
      this.proc.once('error', (error) => onEnd(`could not start (${error.message})`));
      this.proc.once('exit', (code, signal) => onEnd(`exited (code ${code}, signal ${signal})`));
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** Sends one command; resolves with its reply checked against the command's schema. */
  call<C extends WorkerRequest['cmd']>(
    request: Extract<WorkerRequest, { cmd: C }>,
    timeoutMs: number,
  ): Promise<z.infer<(typeof Replies)[C]>> {
    if (this.exitReason)
      return Promise.reject(
        new Error(`worker ${this.index} ${this.exitReason}; stderr tail: ${this.stderr.slice(-5).join(' | ')}`),
      );
    const id = this.nextId++;
    const schema = Replies[request.cmd];
    return new Promise((resolveCall, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TimeoutError(`worker ${this.index} did not answer '${request.cmd}' within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        timer,
        reject,
        resolve: (value) => {
          const parsed = schema.safeParse(value);
          if (parsed.success) resolveCall(parsed.data as z.infer<(typeof Replies)[C]>);
          else
            reject(
              new Error(
                `worker ${this.index} answered '${request.cmd}' with an unexpected shape: ${parsed.error.issues[0]?.message}`,
              ),
            );
        },
      });
      this.proc.stdin!.write(`${JSON.stringify({ id, ...request })}\n`);
    });
  }

  /** Asks the worker to stop its edges and leave (closing stdin), then SIGKILL after `graceMs`. */
  async close(graceMs: number): Promise<void> {
    if (this.exitReason) return;
    this.proc.stdin!.end();
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Immediate: for the last-resort exit handler, where nothing may be awaited. */
  killNow(): void {
    if (!this.exitReason) this.proc.kill('SIGKILL');
  }

  private onLine(text: string, onProgress: (text: string) => void): void {
    let line: WorkerLine;
    try {
      line = WorkerLine.parse(JSON.parse(text));
    } catch {
      // Something other than the protocol on stdout (a stray console.log in a dependency): keep it for diagnosis.
      this.stderr.push(`stdout: ${text.slice(0, 300)}`);
      return;
    }
    if ('event' in line) return onProgress(line.text);
    const p = this.pending.get(line.id);
    if (!p) return;
    this.pending.delete(line.id);
    clearTimeout(p.timer);
    if (line.ok) p.resolve(line.result);
    else p.reject(new Error(`worker ${this.index}: ${line.error}`));
  }
}
