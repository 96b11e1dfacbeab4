/**
 * Starts Debian's mosquitto (2.0) for a test, on free loopback ports, with a generated config, password file
 * and ACL file, waits until every listener accepts TCP, and kills it (by its PID) when the test file ends.
 * General on purpose: the TLS/interop suites pass their own listeners (with TLS files), protocol and ACL text.
 *
 * mosquitto cannot bind port 0, so a free port is found by binding 0 first and releasing it (a small race,
 * retried once on "address in use"). It logs to stderr: stdout into a pipe is block-buffered, so log lines
 * (which tests wait for) would arrive seconds late. Run as root, mosquitto would drop to the `mosquitto` user and then fail
 * to read files in our 0700 temp dir: `user` is set to the current user to stop that.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { freePort } from '../../src/hil/bed/ports.js';
import { tempDir } from './tmp.js';

export { freePort };

export const MOSQUITTO_BIN = process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto';
export const MOSQUITTO_PASSWD_BIN = process.env.MOSQUITTO_PASSWD_BIN ?? '/usr/bin/mosquitto_passwd';

/** Why mosquitto cannot be used here, or undefined when it can (tests print this when they skip). */
export function mosquittoUnavailable(): string | undefined {
  if (!existsSync(MOSQUITTO_BIN))
    return `mosquitto is not installed at ${MOSQUITTO_BIN} (apt-get install -y mosquitto mosquitto-clients)`;
  if (!existsSync(MOSQUITTO_PASSWD_BIN)) return `mosquitto_passwd is not installed at ${MOSQUITTO_PASSWD_BIN}`;
  return undefined;
}

export interface MosquittoListener {
  /** 0 or omitted: a free port. */
  port?: number;
  host?: string;
  protocol?: 'mqtt' | 'websockets';
  /** TLS files (paths); with `requireCertificate` clients must present a certificate signed by `cafile`. */
  tls?: { cafile: string; certfile: string; keyfile: string; requireCertificate?: boolean; tlsVersion?: string };
  /** Extra lines for this listener block. */
  extra?: string[];
}

export interface MosquittoOptions {
  listeners?: MosquittoListener[];
  /** username → password; written to a password file (hashed by mosquitto_passwd -U). */
  users?: Record<string, string>;
  /** ACL file text (mosquitto `acl_file` syntax: `user`, `topic`, `pattern` with %u/%c). */
  acl?: string;
  /** Default: false when `users` is given, true otherwise. */
  allowAnonymous?: boolean;
  /** Extra global config lines (e.g. `use_username_as_clientid true`, `max_packet_size 1000`). */
  config?: string[];
  startTimeoutMs?: number;
}

export interface RunningMosquitto {
  proc: ChildProcess;
  dir: string;
  configPath: string;
  /** The listeners' ports, in the order given. */
  ports: number[];
  port: number;
  /** `mqtt://127.0.0.1:port` (or mqtts:// / ws://) of the first listener. */
  url: string;
  urls: string[];
  /** Everything mosquitto logged so far. */
  log(): string;
  /** Rewrites the password file and reloads it (SIGHUP): tokens exist only after pairing. */
  setUsers(users: Record<string, string>): Promise<void>;
  /** Stops and starts again with the same config and ports (a broker restart, as a site power cycle). */
  restart(): Promise<void>;
  stop(): Promise<void>;
  /** Starts it again after `stop()`, same config and ports: an outage whose length the test decides. */
  start(): Promise<void>;
}

const running = new Set<ChildProcess>();
afterAll(() => {
  for (const proc of running) proc.kill('SIGKILL');
});

function canConnect(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function writePasswordFile(path: string, users: Record<string, string>): void {
  for (const name of Object.keys(users)) {
    if (/[:\s]/.test(name)) throw new Error(`mosquitto user names cannot contain ':' or spaces: ${name}`);
  }
  writeFileSync(
    path,
    Object.entries(users)
      .map(([u, p]) => `${u}:${p}\n`)
      .join(''),
    { mode: 0o600 },
  );
  const hashed = spawnSync(MOSQUITTO_PASSWD_BIN, ['-U', path], { encoding: 'utf8' });
  if (hashed.status !== 0) throw new Error(`mosquitto_passwd -U failed: ${hashed.stderr || hashed.stdout}`);
}

async function startOnce(options: MosquittoOptions): Promise<RunningMosquitto> {
  const dir = tempDir('cst-mosq-');
  const listeners = options.listeners ?? [{}];
  const ports = await Promise.all(listeners.map((l) => (l.port ? Promise.resolve(l.port) : freePort(l.host))));
  const lines = [
    'persistence false',
    'log_dest stderr',
    'log_type all',
    'connection_messages true',
    `user ${userInfo().username}`,
    'per_listener_settings false',
  ];
  const users = options.users ?? {};
  const passwordFile = join(dir, 'passwords');
  if (Object.keys(users).length) {
    writePasswordFile(passwordFile, users);
    lines.push(`password_file ${passwordFile}`);
  }
  lines.push(`allow_anonymous ${options.allowAnonymous ?? Object.keys(users).length === 0}`);
  if (options.acl !== undefined) {
    const aclFile = join(dir, 'acl');
    writeFileSync(aclFile, options.acl, { mode: 0o600 });
    lines.push(`acl_file ${aclFile}`);
  }
  lines.push(...(options.config ?? []));
  listeners.forEach((l, i) => {
    lines.push('', `listener ${ports[i]} ${l.host ?? '127.0.0.1'}`);
    if (l.protocol) lines.push(`protocol ${l.protocol}`);
    if (l.tls) {
      lines.push(`cafile ${l.tls.cafile}`, `certfile ${l.tls.certfile}`, `keyfile ${l.tls.keyfile}`);
      if (l.tls.requireCertificate) lines.push('require_certificate true');
      if (l.tls.tlsVersion) lines.push(`tls_version ${l.tls.tlsVersion}`);
    }
    lines.push(...(l.extra ?? []));
  });
  const configPath = join(dir, 'mosquitto.conf');
  writeFileSync(configPath, `${lines.join('\n')}\n`, { mode: 0o600 });

  const launch = () => launchMosquitto(configPath, listeners, ports, options.startTimeoutMs ?? 10_000);
  let current = await launch();
  const urls = listeners.map(
    (l, i) => `${l.protocol === 'websockets' ? 'ws' : l.tls ? 'mqtts' : 'mqtt'}://${l.host ?? '127.0.0.1'}:${ports[i]}`,
  );
  let earlier = '';
  return {
    get proc() {
      return current.proc;
    },
    dir,
    configPath,
    ports,
    port: ports[0]!,
    url: urls[0]!,
    urls,
    log: () => earlier + current.output(),
    async setUsers(next) {
      if (!Object.keys(users).length) throw new Error('start mosquitto with at least one user to use setUsers');
      writePasswordFile(passwordFile, next);
      current.proc.kill('SIGHUP');
      // mosquitto logs the reload; a CONNECT right after SIGHUP could still meet the old file.
      const deadline = Date.now() + 5_000;
      while (!/Reloading config/i.test(current.output()) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 100));
    },
    async restart() {
      await current.stop();
      earlier += current.output();
      current = await launch();
    },
    stop: () => current.stop(),
    async start() {
      if (current.proc.exitCode === null && current.proc.signalCode === null)
        throw new Error('mosquitto is already running');
      earlier += current.output();
      current = await launch();
    },
  };
}

interface Launched {
  proc: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

async function launchMosquitto(
  configPath: string,
  listeners: MosquittoListener[],
  ports: number[],
  startTimeoutMs: number,
): Promise<Launched> {
  const proc = spawn(MOSQUITTO_BIN, ['-c', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(proc);
  let output = '';
  proc.stdout!.on('data', (d) => (output += d));
  proc.stderr!.on('data', (d) => (output += d));
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    proc.once('exit', () => {
      exited = true;
      running.delete(proc);
      resolve();
    }),
  );

  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (exited) throw Object.assign(new Error(`mosquitto exited at start:\n${output}`), { output });
    const ready = await Promise.all(listeners.map((l, i) => canConnect(ports[i]!, l.host ?? '127.0.0.1')));
    if (ready.every(Boolean)) break;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`mosquitto did not accept connections within the time limit:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    proc,
    output: () => output,
    async stop() {
      if (exited) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      await exit;
      clearTimeout(timer);
    },
  };
}

export async function startMosquitto(options: MosquittoOptions = {}): Promise<RunningMosquitto> {
  try {
    return await startOnce(options);
  } catch (error) {
    // Another process may have taken the port between our probe and mosquitto's bind: try once more.
    if (/Address already in use/i.test((error as { output?: string }).output ?? '')) return startOnce(options);
    throw error;
  }
}
