/**
 * The device under test, as the scenarios see it. Every kind of target (a local Node or Bun process, the
 * compiled binary, the arm64 binary under qemu, a real device behind a command template) implements this one
 * interface, so the same scenario runs unchanged against each (thin-edge's device adapters, STYLE §5).
 *
 * Scenarios learn about the device only through what these methods return: the CLI's exit codes and output.
 */
import type { CommandResult } from '../../common/process/process.js';

export const TARGET_KINDS = ['local-node', 'local-bun', 'binary', 'qemu-arm64', 'remote'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];

/** What a target can do for real; a scenario that needs a missing capability is skipped with the reason. */
export interface Capabilities {
  /** Can cut power (SIGKILL locally, `--power-cycle-cmd` on a rig). */
  powerCut: string | true;
  /** Can cut and restore the device's network (`--net-down-cmd`/`--net-up-cmd`, or a namespace locally). */
  network: string | true;
  /** Can boot the device with its clock far in the past. */
  clockInPast: string | true;
  /** Can hand telemetry to the running device (its producer API: directly, or `produce` through the template). */
  telemetry: string | true;
}

/** Numbered telemetry for the seq checks: `count` records on `tag`, values 0..count-1, one envelope each. */
export interface TelemetrySeries {
  tag: string;
  count: number;
}

export interface PairOptions {
  edgeId?: string;
  force?: boolean;
  maxAttempts?: number;
  timeoutMs?: number;
  /** Pair with the device's clock far in the past (needs the clockInPast capability). */
  clockInPast?: boolean;
}

/** `register` through the site server with a licence key (issue 15). */
export interface RegisterOptions {
  siteServerUrl: string;
  /** Given as `--site-server-fingerprint`; without it the device refuses (no terminal), which a scenario may want. */
  fingerprint?: string;
  /** A secret: never on the command line (the environment locally, stdin on a remote device). */
  licenceKey: string;
  edgeId?: string;
  force?: boolean;
  timeoutMs?: number;
}

/** How a device session ended (run's exit), or null when it is still running. */
export interface SessionExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartOptions {
  clockInPast?: boolean;
  /**
   * `CONSYSTENCE_EDGE_SITE_CHECK_AFTER_SECONDS` for this run: how soon the device asks the cloud where its site
   * server went (default 10 min). Local targets only; a remote device takes it from its own service environment.
   */
  siteCheckAfterSeconds?: number;
  /**
   * Run the device as its unit does: through the real launcher, started again after every exit (systemd's
   * `Restart=always`), so an update's exit 75 starts the new release and a failed trial rolls back. Local targets
   * with the compiled binary only; a remote device has its own unit.
   */
  throughLauncher?: boolean;
}

export interface DeviceTarget {
  readonly kind: TargetKind;
  /** One line for reports: what exactly runs (command, host). */
  readonly description: string;
  readonly capabilities: Capabilities;
  /** The device's state folder on this machine (local targets only): e.g. to put it on a small tmpfs. */
  readonly localStateDir?: string;
  /** `pair --uri URI --edge-id ID --json`; never throws for a non-zero exit, the scenario judges it. */
  pair(uri: string, options?: PairOptions): Promise<CommandResult>;
  /** `register --json …` through the site server; never throws for a non-zero exit. */
  register(options: RegisterOptions): Promise<CommandResult>;
  /** Starts `run --json` in the background. */
  start(options?: StartOptions): Promise<void>;
  /** Clean stop (SIGTERM); resolves with the exit. */
  stop(): Promise<SessionExit>;
  /** Power cut: no clean shutdown, no LWT from the device itself. */
  kill(): Promise<void>;
  /** `status --json` parsed, or null if it failed (the failure is in the diagnostics). */
  status(): Promise<Record<string, unknown> | null>;
  /** JSON lines `run` printed since start (the device's own account of its states). */
  runEvents(): Array<Record<string, unknown>>;
  /** Waits for a `run --json` line. */
  waitForRunEvent(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<Record<string, unknown>>;
  /** The running session's exit, once it exited on its own (e.g. revoked → 7). */
  sessionExit(): SessionExit | null;
  /**
   * Hands a series to the running device's producer API, one envelope per record so a drain has many messages
   * to interrupt; resolves with the first and last seq once the device committed them all (durably).
   */
  produce(series: TelemetrySeries): Promise<{ seq: number; lastSeq: number }>;
  netDown(): Promise<void>;
  netUp(): Promise<void>;
  /** Logs, status, state-dir listing: gathered when a scenario fails. */
  collectDiagnostics(): Promise<Record<string, string>>;
  /** Stops anything still running and removes what the target created (state dir, namespace). */
  dispose(): Promise<void>;
}

/** Everything a target needs to create one fresh device for one scenario. */
export interface DeviceSpec {
  /** Unique per scenario run; names the state dir (local) or remote folder. */
  runId: string;
  edgeId: string;
  /** Fresh per scenario for local targets; remote devices keep their own machine id. */
  hardwareId: string;
  /** Local temp folder owned by this scenario run. */
  workDir: string;
  /** Run the device inside this network namespace (partition scenarios, local targets only). */
  netns?: { name: string; hostIfName: string };
}
