/**
 * A device state dir for the launcher's tests: releases made of fake binaries (shell scripts that log their start,
 * exit with a code, or hang), a trial record as the update engine writes it, and a way to run the real launcher
 * under a given shell.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, runToEnd } from '../../helpers/process.js';
import { tempDir } from '../../helpers/tmp.js';

export const LAUNCHER = join(ROOT, 'image/launcher/consystence-edge-launcher');

/** exit N, hang (until SIGTERM), or commit the trial the way the engine does and keep running for a while. */
export type Behaviour = { exit: number } | 'hang' | 'commit';

function script(name: string, behaviour: Behaviour): string {
  const record = `printf '%s %s\\n' ${name} "$*" >> "$STARTS_LOG"`;
  if (behaviour === 'hang') return `#!/bin/sh\n${record}\necho $$ > "$STARTS_LOG.pid"\nexec sleep 600\n`;
  if (behaviour === 'commit')
    return `#!/bin/sh\n${record}\nmv "$CONSYSTENCE_EDGE_STATE_DIR/update/trial" "$CONSYSTENCE_EDGE_STATE_DIR/update/last-trial"\nsleep 4\n`;
  return `#!/bin/sh\n${record}\nexit ${behaviour.exit}\n`;
}

export class FakeDevice {
  readonly state: string;
  readonly factory: string;
  readonly startsLog: string;
  /** Directories prepended to PATH (e.g. a fake `sync`). */
  readonly path: string[] = [];

  /** `stateParent`: where the state dir goes (a small tmpfs for the disk-full test); the rest is elsewhere. */
  constructor(stateParent = tempDir('cst-launcher-')) {
    const outside = tempDir('cst-launcher-bin-');
    this.state = join(stateParent, 'state');
    this.factory = join(outside, 'factory-consystence-edge');
    this.startsLog = join(outside, 'starts.log');
    mkdirSync(join(this.state, 'releases'), { recursive: true, mode: 0o700 });
    mkdirSync(join(this.state, 'update/snapshot'), { recursive: true, mode: 0o700 });
    writeFileSync(this.startsLog, '');
    this.writeBinary(this.factory, 'factory', { exit: 0 });
  }

  writeBinary(file: string, name: string, behaviour: Behaviour): void {
    writeFileSync(file, script(name, behaviour), { mode: 0o755 });
    chmodSync(file, 0o755);
  }

  release(version: string, behaviour: Behaviour = { exit: 0 }): this {
    const dir = join(this.state, 'releases', version);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.writeBinary(join(dir, 'consystence-edge'), version, behaviour);
    writeFileSync(join(dir, 'manifest.jws'), 'not read by the launcher');
    return this;
  }

  link(name: 'current' | 'previous', target: string): this {
    symlinkSync(target, join(this.state, 'releases', name));
    return this;
  }

  /** What the engine leaves before it exits 75: trial record, swapped current, snapshot of identity.db. */
  onTrial(version: string, previous: string, windowS = 120): this {
    writeFileSync(join(this.state, 'identity.db'), 'identity written by the new version');
    writeFileSync(join(this.state, 'identity.db-wal'), 'wal of the new version');
    writeFileSync(join(this.state, 'identity.db-shm'), 'shm of the new version');
    writeFileSync(join(this.state, 'update/snapshot/identity.db'), 'identity before the switch');
    this.write(
      'update/trial',
      `version=${version} previous=${previous} window_s=${windowS} snapshot=update/snapshot/identity.db\n`,
    );
    return this;
  }

  write(path: string, content: string): void {
    writeFileSync(join(this.state, path), content, { mode: 0o600 });
  }

  read(path: string): string | undefined {
    const file = join(this.state, path);
    return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  }

  /** The rollback record as an object, or undefined. */
  rollbackRecord(): Record<string, string> | undefined {
    const text = this.read('update/rollback');
    if (text === undefined) return undefined;
    return Object.fromEntries(
      text
        .trim()
        .split(/\s+/)
        .map((word) => word.split('=', 2) as [string, string]),
    );
  }

  starts(): string[] {
    return readFileSync(this.startsLog, 'utf8').trim().split('\n').filter(Boolean);
  }

  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return {
      CONSYSTENCE_EDGE_STATE_DIR: this.state,
      CONSYSTENCE_EDGE_FACTORY_BIN: this.factory,
      STARTS_LOG: this.startsLog,
      PATH: [...this.path, process.env.PATH].join(':'),
      ...extra,
    };
  }

  /** The PID of the last 'hang' binary started. */
  hungPid(): number | undefined {
    const file = `${this.startsLog}.pid`;
    return existsSync(file) ? Number(readFileSync(file, 'utf8')) : undefined;
  }

  /** One start of the service: the real launcher under `shell` (e.g. ['dash']), as systemd runs it (`launcher run`). */
  start(shell: string[], options: { env?: NodeJS.ProcessEnv; args?: string[]; timeoutMs?: number } = {}) {
    const [command, ...shellArgs] = shell as [string, ...string[]];
    return runToEnd(command, [...shellArgs, LAUNCHER, 'run', ...(options.args ?? [])], {
      env: this.env(options.env),
      timeoutMs: options.timeoutMs ?? 30_000,
    });
  }
}
