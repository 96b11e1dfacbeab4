/**
 * systemd's `Restart=always` for a local device: `run` started through the real launcher
 * (image/launcher/consystence-edge-launcher, the unit's ExecStart), and started again after each exit, after a short
 * delay and a bounded number of times. An update's exit 75 then restarts into the new release, and a release that
 * crashes or is stopped by the launcher's trial timer is rolled back by the next start, as on a device.
 *
 * It offers the part of RunningProcess that LocalProcessTarget uses; output accumulates over every start.
 */
import { resolve } from 'node:path';
import { type ExitInfo, parseJsonLine, RunningProcess } from '../../common/process/process.js';
import { REPO_ROOT } from './paths.js';

export const LAUNCHER_SCRIPT = resolve(REPO_ROOT, 'image/launcher/consystence-edge-launcher');

export interface RestartPolicy {
  /** systemd's RestartSec (10 s on a device; shorter here so scenarios stay quick). */
  delayMs: number;
  /** Starts after the first one before giving up (systemd's StartLimitBurst, in effect). */
  maxRestarts: number;
}

export const HIL_RESTART_POLICY: RestartPolicy = { delayMs: 1_000, maxRestarts: 12 };

export class RestartOnExit {
  private readonly runs: RunningProcess[] = [];
  private stopping = false;
  private pending: NodeJS.Timeout | undefined;
  private finalExit: ExitInfo | null = null;
  readonly command = 'sh';
  readonly args: string[];

  /** `binary` runs when the state dir has no installed release (the launcher's factory binary). */
  constructor(
    binary: string,
    edgeArgs: string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly policy: RestartPolicy = HIL_RESTART_POLICY,
  ) {
    this.args = [LAUNCHER_SCRIPT, ...edgeArgs];
    // A trial margin shorter than a device's 60 s keeps the never-online rollback scenario quick.
    this.env = { CONSYSTENCE_EDGE_LAUNCHER_TRIAL_MARGIN_S: '15', ...env, CONSYSTENCE_EDGE_FACTORY_BIN: binary };
    this.startOnce();
  }

  private startOnce(): void {
    const run = new RunningProcess(this.command, this.args, { env: this.env });
    this.runs.push(run);
    run.exited
      .then((exit) => {
        if (this.stopping) return;
        if (this.runs.length > this.policy.maxRestarts) {
          this.finalExit = exit;
          return;
        }
        this.pending = setTimeout(() => this.startOnce(), this.policy.delayMs);
      })
      .catch(() => undefined); // exited never rejects
  }

  /** How many times `run` was started. */
  get starts(): number {
    return this.runs.length;
  }

  get stdout(): string[] {
    return this.runs.flatMap((run) => run.stdout);
  }

  get stderr(): string[] {
    return this.runs.flatMap((run) => run.stderr);
  }

  /** Null while a process runs or a restart is due; how the last one ended once no restart follows. */
  get exitInfo(): ExitInfo | null {
    return this.finalExit;
  }

  jsonLines(): Array<Record<string, unknown>> {
    return this.stdout.map(parseJsonLine).filter((l): l is Record<string, unknown> => l !== null);
  }

  /** A JSON stdout line of any start so far or to come (lines seen before the call count). */
  async waitForJson(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.jsonLines().find(match);
      if (found) return found;
      if (this.finalExit)
        throw new Error(`the device stopped restarting (${JSON.stringify(this.finalExit)}) before ${what}`);
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Stops restarting, then stops the running process (SIGKILL is a power cut: nothing restarts it either). */
  async terminate(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<ExitInfo> {
    this.stopping = true;
    clearTimeout(this.pending);
    const exit = await this.runs.at(-1)!.terminate(signal, graceMs);
    this.finalExit = exit;
    return exit;
  }
}
