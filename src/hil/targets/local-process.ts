/**
 * A device under test that is a process on this machine: the edge under Node (tsx), under Bun, the compiled
 * binary, or the arm64 binary under qemu-user. The kinds differ only in the command that starts the CLI (see the
 * per-kind files); state dir, hardware id, power cut (SIGKILL), network namespace and diagnostics are shared.
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseLastJson, RunningProcess, runCommand, type CommandResult } from '../../common/process/process.js';
import { LICENCE_KEY_ENV, PAIRING_URI_ENV } from '../../edge/cli/secret-input.js';
import { ProducerClient } from '../../edge/producer/client.js';
import type {
  Capabilities,
  DeviceSpec,
  DeviceTarget,
  PairOptions,
  RegisterOptions,
  SessionExit,
  TargetKind,
  TelemetrySeries,
  StartOptions,
} from './types.js';
import { registerArgs } from './register-args.js';
import { SITE_CHECK_ENV } from '../../edge/cli/site-check-env.js';
import { runRigHook, type RigHooks } from './hooks.js';
import { faketimeCommand, faketimeUnavailable } from './faketime.js';
import { RestartOnExit } from './restart-on-exit.js';

/** How to start the edge CLI: `command ...prefixArgs <edge args>`. */
export interface Launcher {
  command: string;
  prefixArgs: string[];
  /** Extra environment (e.g. QEMU_LD_PREFIX). */
  env?: NodeJS.ProcessEnv;
  /** Why the clock-in-past boot cannot be done with this launcher, if it cannot. */
  clockInPastUnsupported?: string;
}

const CLI_TIMEOUT_MS = 60_000;
/** The clock the "far in the past" boot starts with: a board without an RTC battery. */
export const PAST_CLOCK = '2001-01-01 00:00:00';

export class LocalProcessTarget implements DeviceTarget {
  readonly capabilities: Capabilities;
  private session: RunningProcess | RestartOnExit | null = null;
  private readonly stateDir: string;
  private readonly history: string[] = [];
  private readonly producerSocket: string;

  constructor(
    readonly kind: TargetKind,
    private readonly launcher: Launcher,
    private readonly spec: DeviceSpec,
    private readonly hooks: RigHooks,
  ) {
    this.stateDir = join(spec.workDir, 'device-state');
    mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
    const clockReason = launcher.clockInPastUnsupported ?? faketimeUnavailable();
    this.capabilities = {
      powerCut: true,
      network:
        hooks.netDown && hooks.netUp
          ? true
          : spec.netns
            ? true
            : 'no --net-down-cmd/--net-up-cmd and the device is not in a network namespace',
      clockInPast: clockReason ?? true,
      telemetry: true,
    };
    // A Unix socket, not a TCP port: no clash between devices, and it reaches into a network namespace.
    this.producerSocket = join(spec.workDir, 'producer.sock');
  }

  get localStateDir(): string {
    return this.stateDir;
  }

  get description(): string {
    return `${this.kind}: ${[this.launcher.command, ...this.launcher.prefixArgs].join(' ')}${this.spec.netns ? ` (in netns ${this.spec.netns.name})` : ''}`;
  }

  private commonArgs(): string[] {
    return ['--state-dir', this.stateDir, '--hardware-id', this.spec.hardwareId, '--log-level', 'debug'];
  }

  /** The full argv for one edge subcommand, wrapped in the namespace and faketime when asked. */
  private argv(edgeArgs: string[], options: { clockInPast?: boolean } = {}): { command: string; args: string[] } {
    let command = this.launcher.command;
    let args = [...this.launcher.prefixArgs, ...edgeArgs];
    if (options.clockInPast) ({ command, args } = faketimeCommand(PAST_CLOCK, command, args));
    if (this.spec.netns) {
      args = ['netns', 'exec', this.spec.netns.name, command, ...args];
      command = 'ip';
    }
    return { command, args };
  }

  private async cli(
    edgeArgs: string[],
    timeoutMs = CLI_TIMEOUT_MS,
    options: { clockInPast?: boolean; env?: NodeJS.ProcessEnv } = {},
  ): Promise<CommandResult> {
    const { command, args } = this.argv(edgeArgs, options);
    const result = await runCommand(command, args, {
      timeoutMs,
      env: { ...process.env, ...this.launcher.env, ...options.env },
    });
    this.history.push(
      `$ ${[command, ...args].join(' ')}\n→ exit ${result.code}${result.timedOut ? ' (timed out)' : ''}\n${result.stdout}\n${result.stderr.split('\n').slice(-50).join('\n')}`,
    );
    return result;
  }

  pair(uri: string, options: PairOptions = {}): Promise<CommandResult> {
    return this.cli(
      [
        'pair',
        '--json',
        ...this.commonArgs(),
        ...(options.edgeId ? ['--edge-id', options.edgeId] : []),
        ...(options.force ? ['--force'] : []),
        ...(options.maxAttempts ? ['--max-attempts', String(options.maxAttempts)] : []),
      ],
      options.timeoutMs ?? CLI_TIMEOUT_MS,
      // The URI (with its code) goes in the environment, not on the command line other users can read.
      { clockInPast: options.clockInPast === true, env: { [PAIRING_URI_ENV]: uri } },
    );
  }

  register(options: RegisterOptions): Promise<CommandResult> {
    return this.cli(
      ['register', '--json', ...this.commonArgs(), ...registerArgs(options)],
      options.timeoutMs ?? CLI_TIMEOUT_MS,
      { env: { [LICENCE_KEY_ENV]: options.licenceKey } },
    );
  }

  async start(options: StartOptions = {}): Promise<void> {
    if (this.session && !this.session.exitInfo) throw new Error('the device is already running');
    // A pairing-URI file that never exists: `run` must use the saved registration, never pair by itself here.
    const { command, args } = this.argv(
      [
        'run',
        '--json',
        ...this.commonArgs(),
        '--pairing-uri-file',
        join(this.spec.workDir, 'no-pairing-uri'),
        '--producer-socket',
        this.producerSocket,
      ],
      options,
    );
    this.archiveSession();
    const siteCheck =
      options.siteCheckAfterSeconds !== undefined ? { [SITE_CHECK_ENV]: String(options.siteCheckAfterSeconds) } : {};
    const env = { ...process.env, ...this.launcher.env, ...siteCheck };
    if (options.throughLauncher) {
      // The launcher exec's the factory binary or an installed release with the same arguments: only a plain
      // binary (no interpreter, namespace or faketime in front of it) can be swapped like that.
      if (command !== this.launcher.command || this.launcher.prefixArgs.length > 0)
        throw new Error(
          `${this.kind} cannot run through the launcher: it needs the binary target, without netns or faketime`,
        );
      this.session = new RestartOnExit(command, args, env);
      return;
    }
    this.session = new RunningProcess(command, args, { env });
  }

  private archiveSession(): void {
    if (!this.session) return;
    this.history.push(
      `$ ${[this.session.command, ...this.session.args].join(' ')}\n→ ${JSON.stringify(this.session.exitInfo)}\n${this.session.stdout.join('\n')}\n${this.session.stderr.slice(-200).join('\n')}`,
    );
  }

  async stop(): Promise<SessionExit> {
    if (!this.session) return { code: null, signal: null };
    return this.session.terminate('SIGTERM', 15_000);
  }

  async kill(): Promise<void> {
    if (this.hooks.powerCycle) {
      await runRigHook('power-cycle', this.hooks.powerCycle, this.hooks);
      return;
    }
    await this.session?.terminate('SIGKILL');
  }

  async status(): Promise<Record<string, unknown> | null> {
    const result = await this.cli(['status', '--json', ...this.commonArgs()], 30_000);
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
    const client = new ProducerClient({ socketPath: this.producerSocket, timeoutMs: 30_000 });
    let seq = 0;
    let lastSeq = 0;
    for (let value = 0; value < series.count; value++) {
      const answer = await whileRestarting(() =>
        client.telemetry([{ tag: series.tag, ts: new Date().toISOString(), value }], { durable: true }),
      );
      seq ||= answer.seq;
      lastSeq = answer.lastSeq;
    }
    return { seq, lastSeq };
  }

  async netDown(): Promise<void> {
    if (this.hooks.netDown) await runRigHook('net-down', this.hooks.netDown, this.hooks);
    else if (this.spec.netns)
      await runRigHook('net-down', `ip link set dev ${this.spec.netns.hostIfName} down`, this.hooks);
    else throw new Error(String(this.capabilities.network));
  }

  async netUp(): Promise<void> {
    if (this.hooks.netUp) await runRigHook('net-up', this.hooks.netUp, this.hooks);
    else if (this.spec.netns)
      await runRigHook('net-up', `ip link set dev ${this.spec.netns.hostIfName} up`, this.hooks);
    else throw new Error(String(this.capabilities.network));
  }

  async collectDiagnostics(): Promise<Record<string, string>> {
    const status = await this.cli(['status', '--json', ...this.commonArgs()], 15_000).catch((e: Error) => ({
      stdout: '',
      stderr: e.message,
      code: null,
    }));
    this.archiveSession();
    const listing = existsSync(this.stateDir)
      ? readdirSync(this.stateDir)
          .map((f) => `${f} ${statSync(join(this.stateDir, f)).size} bytes`)
          .join('\n')
      : '(no state dir)';
    return {
      'device.description': this.description,
      'device.status': `${status.stdout}\n${status.stderr}`.trim(),
      'device.state-dir': listing,
      'device.commands': this.history.join('\n\n'),
    };
  }

  async dispose(): Promise<void> {
    await this.session?.terminate('SIGKILL');
  }
}

/** How long a producer keeps retrying while the device's socket is absent (an update's restart takes seconds). */
const PRODUCER_RETRY_MS = 60_000;

/**
 * Calls `send` again while the producer socket is missing or refuses, as a real producer does while the device
 * restarts (an update's exit 75, a launcher start): nothing reached the device then, so a retry cannot duplicate.
 */
async function whileRestarting<T>(send: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + PRODUCER_RETRY_MS;
  for (;;) {
    try {
      return await send();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if ((code !== 'ENOENT' && code !== 'ECONNREFUSED') || Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
