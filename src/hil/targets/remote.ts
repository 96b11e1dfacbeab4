/**
 * A real device reached through a command template (ssh, `docker exec`, a serial-console helper). Each
 * scenario gets its own state dir on the device (`--remote-state-dir`/<run id>), so scenarios stay independent;
 * the device keeps its real machine id. Power and network are cut by the rig's hooks; without them, scenarios
 * that need them are skipped with the reason.
 *
 * `stop()` sends SIGTERM to the local template process: with `ssh -tt` the remote `run` gets SIGHUP and stops.
 *
 * Telemetry goes through the template too (`consystence-edge produce --count N …`): the producer API listens on
 * the device's loopback only. `run` is started with `--producer-port 0` so it cannot clash with the device's own
 * service on 8719; the port it picked is read from its `started` line.
 */
import { z } from 'zod';
import { parseLastJson, RunningProcess, runCommand, type CommandResult } from '../../common/process/process.js';
import { RigFault, shellCouldNotRun } from '../scenario-kit/errors.js';
import { runRigHook, type RigHooks } from './hooks.js';
import { renderTemplate } from './template.js';
import type {
  Capabilities,
  DeviceSpec,
  DeviceTarget,
  PairOptions,
  RegisterOptions,
  SessionExit,
  StartOptions,
  TelemetrySeries,
} from './types.js';
import { registerArgs } from './register-args.js';

export interface RemoteOptions {
  template: string;
  host?: string;
  stateRoot: string;
}

const CLI_TIMEOUT_MS = 120_000;
/** `produce --json`'s answer; anything else means the template or the device misbehaved. */
const Produced = z.object({ seq: z.number().int().positive(), lastSeq: z.number().int().positive() });

export class RemoteTarget implements DeviceTarget {
  readonly kind = 'remote' as const;
  readonly capabilities: Capabilities;
  private session: RunningProcess | null = null;
  private readonly stateDir: string;
  private readonly history: string[] = [];

  constructor(
    private readonly options: RemoteOptions,
    spec: DeviceSpec,
    private readonly hooks: RigHooks,
  ) {
    this.stateDir = `${options.stateRoot.replace(/\/+$/, '')}/${spec.runId}`;
    this.capabilities = {
      powerCut: hooks.powerCycle ? true : 'a remote device needs --power-cycle-cmd to cut its power',
      network: hooks.netDown && hooks.netUp ? true : 'a remote device needs --net-down-cmd and --net-up-cmd',
      clockInPast:
        'a remote device cannot be booted with its clock in the past from the rig (set its RTC by hand and run this scenario alone)',
      telemetry: true,
    };
  }

  get description(): string {
    return `remote: ${this.options.template}${this.options.host ? ` (host ${this.options.host})` : ''}, state dir ${this.stateDir}`;
  }

  private line(args: string[]): string {
    return renderTemplate(this.options.template, { ...(this.options.host ? { host: this.options.host } : {}), args });
  }

  /** Runs one edge command through the template; a template that cannot run its command at all is a rig fault. */
  private async cli(args: string[], input?: string, timeoutMs = CLI_TIMEOUT_MS): Promise<CommandResult> {
    const line = this.line(args);
    const result = await runCommand('/bin/sh', ['-c', line], { timeoutMs, ...(input !== undefined ? { input } : {}) });
    this.history.push(
      `$ ${line}\n→ exit ${result.code}${result.timedOut ? ' (timed out)' : ''}\n${result.stdout}\n${result.stderr.split('\n').slice(-50).join('\n')}`,
    );
    if (shellCouldNotRun(result.code))
      throw new RigFault(
        `the command template could not run its command (exit ${result.code}): ${line}\n${result.stderr.slice(-500)}`,
      );
    return result;
  }

  pair(uri: string, options: PairOptions = {}): Promise<CommandResult> {
    if (options.clockInPast) return Promise.reject(new Error(String(this.capabilities.clockInPast)));
    return this.cli(
      [
        'pair',
        '--uri',
        '-',
        '--json',
        '--state-dir',
        this.stateDir,
        ...(options.edgeId ? ['--edge-id', options.edgeId] : []),
        ...(options.force ? ['--force'] : []),
        ...(options.maxAttempts ? ['--max-attempts', String(options.maxAttempts)] : []),
      ],
      `${uri}\n`,
      options.timeoutMs ?? CLI_TIMEOUT_MS,
    );
  }

  register(options: RegisterOptions): Promise<CommandResult> {
    // The licence key goes over stdin, like the pairing URI: never on the command line of the device.
    return this.cli(
      ['register', '--licence-key', '-', '--json', '--state-dir', this.stateDir, ...registerArgs(options)],
      `${options.licenceKey}\n`,
      options.timeoutMs ?? CLI_TIMEOUT_MS,
    );
  }

  async start(options: StartOptions = {}): Promise<void> {
    if (options.clockInPast) throw new Error(String(this.capabilities.clockInPast));
    if (options.siteCheckAfterSeconds !== undefined)
      throw new Error(
        'a remote device takes CONSYSTENCE_EDGE_SITE_CHECK_AFTER_SECONDS from its own service environment; set it there',
      );
    if (this.session && !this.session.exitInfo) throw new Error('the device is already running');
    // exec: the signal from stop() reaches the template's process (ssh), not an intermediate shell.
    this.session = new RunningProcess('/bin/sh', [
      '-c',
      `exec ${this.line(['run', '--json', '--state-dir', this.stateDir, '--pairing-uri-file', `${this.stateDir}/no-pairing-uri`, '--producer-port', '0'])}`,
    ]);
  }

  async stop(): Promise<SessionExit> {
    return this.session ? this.session.terminate('SIGTERM', 15_000) : { code: null, signal: null };
  }

  async kill(): Promise<void> {
    if (!this.hooks.powerCycle) throw new Error(String(this.capabilities.powerCut));
    await runRigHook('power-cycle', this.hooks.powerCycle, this.hooks);
    await this.session?.terminate('SIGKILL');
  }

  async status(): Promise<Record<string, unknown> | null> {
    const result = await this.cli(['status', '--json', '--state-dir', this.stateDir], undefined, 60_000);
    return result.code === 0 ? parseLastJson(result.stdout) : null;
  }

  runEvents(): Array<Record<string, unknown>> {
    return this.session?.jsonLines() ?? [];
  }

  waitForRunEvent(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<Record<string, unknown>> {
    if (!this.session) return Promise.reject(new Error(`the device is not running (waiting for ${what})`));
    return this.session.waitForJson(match, timeoutMs, what);
  }

  sessionExit(): SessionExit | null {
    return this.session?.exitInfo ?? null;
  }

  async produce(series: TelemetrySeries): Promise<{ seq: number; lastSeq: number }> {
    const port = await this.producerPort();
    // One command for the whole series (one ssh round trip, not one per record); --batch 1 keeps one envelope each.
    const result = await this.cli([
      'produce',
      '--tag',
      series.tag,
      '--value',
      '0',
      '--count',
      String(series.count),
      '--batch',
      '1',
      '--durable',
      '--json',
      '--producer-port',
      port,
    ]);
    const answer = Produced.safeParse(parseLastJson(result.stdout));
    if (result.code !== 0 || !answer.success) {
      throw new Error(
        `'consystence-edge produce' through the template ${result.timedOut ? 'timed out' : `exited ${result.code}`}: ${(result.stderr.trim() || result.stdout.trim()).split('\n').slice(-3).join(' ').slice(0, 500)}`,
      );
    }
    return answer.data;
  }

  /** The port the running session's producer API listens on, from its `started` line. */
  private async producerPort(): Promise<string> {
    const started = await this.waitForRunEvent(
      (l) => l.event === 'started',
      60_000,
      "run's started line (the producer API's port)",
    );
    const address = typeof started.producer === 'string' ? started.producer : '';
    const port = /^http:\/\/127\.0\.0\.1:(\d+)$/.exec(address)?.[1];
    if (!port)
      throw new Error(
        `the device started without a producer API on loopback (started line: ${JSON.stringify(started).slice(0, 300)}); see its run output`,
      );
    return port;
  }

  async netDown(): Promise<void> {
    if (!this.hooks.netDown) throw new Error(String(this.capabilities.network));
    await runRigHook('net-down', this.hooks.netDown, this.hooks);
  }

  async netUp(): Promise<void> {
    if (!this.hooks.netUp) throw new Error(String(this.capabilities.network));
    await runRigHook('net-up', this.hooks.netUp, this.hooks);
  }

  async collectDiagnostics(): Promise<Record<string, string>> {
    const status = await this.cli(['status', '--json', '--state-dir', this.stateDir], undefined, 30_000).catch(
      (e: Error) => ({ stdout: '', stderr: e.message }),
    );
    const run = this.session
      ? `${this.session.stdout.join('\n')}\n${this.session.stderr.slice(-200).join('\n')}`
      : '(not started)';
    return {
      'device.description': this.description,
      'device.status': `${status.stdout}\n${status.stderr}`.trim(),
      'device.run-output': run,
      'device.commands': this.history.join('\n\n'),
    };
  }

  async dispose(): Promise<void> {
    await this.session?.terminate('SIGTERM', 10_000);
    // Leave nothing behind on the device: the scenario's state dir goes with it (keys included).
    await this.cli(['reset', '--yes', '--keys', '--state-dir', this.stateDir], undefined, 60_000).catch(
      () => undefined,
    );
  }
}
