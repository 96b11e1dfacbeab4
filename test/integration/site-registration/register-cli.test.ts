/**
 * `consystence-edge register` as a technician runs it, a real child process against a site server written from the
 * contract: without a terminal and without --site-server-fingerprint it refuses and sends nothing; the licence
 * key never reaches stdout, stderr or the logs; a power cut (SIGKILL) while the site server holds its answer is
 * replayed by the next run with the same Idempotency-Key, one binding, and so is a cut at any other moment; and
 * the service registers from a registration file at first boot, once.
 */
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { LICENCE_KEY_ENV, PAIRING_URI_ENV } from '../../../src/edge/cli/secret-input.js';
import { REGISTRATION_FILE_ENV } from '../../../src/edge/site-server/registration-file.js';
import { buildPairingUri } from '../../../src/protocol/index.js';
import { fakeClock } from '../../e2e/support/edge.js';
import { commandFor, ROOT, type Runtime, runToEnd, startEntry } from '../../helpers/process.js';
import { startFrozenListener } from '../../helpers/frozen-listener.js';
import { tempDir, testHardwareId } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { type ContractSiteServer, startContractSiteServer } from './contract-site-server.js';

const LICENCE = 'CST-EDGE-CLIT-0000-0001';
const servers: ContractSiteServer[] = [];
afterAll(async () => {
  for (const server of servers) await server.close();
});

async function site(options: Parameters<typeof startContractSiteServer>[0]) {
  const server = await startContractSiteServer(options);
  servers.push(server);
  return server;
}

const cli = commandFor('node', 'src/edge/main.ts');
const register = (runtime: Runtime, args: string[], env: NodeJS.ProcessEnv = {}) => {
  const { command, args: base } = commandFor(runtime, 'src/edge/main.ts');
  return runToEnd(command, [...base, 'register', ...args], { env: { [LICENCE_KEY_ENV]: LICENCE, ...env } });
};

describe('consystence-edge register', () => {
  it('without a terminal and without the fingerprint flag: exit 2, the fingerprint shown, nothing sent', async () => {
    const server = await site({ mode: 'connected' });
    const dir = tempDir('cst-register-cli-');
    const result = await register('node', [
      '--state-dir',
      dir,
      '--hardware-id',
      testHardwareId(),
      '--site-server',
      server.url,
      '--edge-id',
      'cli-1',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(server.fingerprint);
    expect(result.stderr).toContain('--site-server-fingerprint');
    expect(server.requests).toHaveLength(0);
  });

  it('without a licence key: the message names every way to give it, the environment variable by name', async () => {
    const result = await register(
      'node',
      ['--state-dir', tempDir('cst-register-cli-'), '--site-server', 'https://127.0.0.1:9', '--edge-id', 'cli-nokey'],
      { [LICENCE_KEY_ENV]: '' },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `--licence-key-file FILE, --licence-key - (stdin) or the environment variable ${LICENCE_KEY_ENV}`,
    );
  });

  // Both runtimes: the device binary is Bun, and the pinned transport is raw TLS plus HTTP/1.1 of our own.
  it.each(['node', 'bun'] as const)(
    '%s: registers with the flag; a licence key on the command line is warned about and never printed back',
    async (runtime) => {
      const server = await site({ mode: 'air-gapped' });
      const dir = tempDir('cst-register-cli-');
      const result = await register(
        runtime,
        [
          '--state-dir',
          dir,
          '--hardware-id',
          testHardwareId(),
          '--site-server',
          server.url,
          '--edge-id',
          'cli-2',
          '--site-server-fingerprint',
          server.fingerprint,
          '--licence-key',
          LICENCE,
          '--no-connect',
          '--log-level',
          'debug',
        ],
        { [LICENCE_KEY_ENV]: '' },
      );
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain('registered: cli-2');
      expect(result.stderr).toContain('warning: the licence key given with --licence-key is visible');
      expect(`${result.stdout}\n${result.stderr.replace(/warning: the licence key.*\n/, '')}`).not.toContain(LICENCE);
      const status = await runToEnd(cli.command, [...cli.args, 'status', '--json', '--state-dir', dir]);
      const report = JSON.parse(status.stdout) as Record<string, unknown>;
      expect(report).toMatchObject({
        state: 'paired',
        registeredVia: 'site-air-gapped',
        siteServerUrl: server.url,
        siteServerFingerprint: server.fingerprint,
        offlineLicence: { id: expect.stringMatching(/^[0-9a-f-]{36}$/), issuedAt: expect.any(String) },
        tokenIssuer: `site:${server.siteId}`,
      });
      expect(status.stdout).not.toContain(LICENCE);
      const human = (await runToEnd(cli.command, [...cli.args, 'status', '--state-dir', dir])).stdout;
      expect(human).toMatch(/registered via: +site server registration with a licence key \(air-gapped site/);
      expect(human).toContain(`registered at:    ${server.url}`);
      expect(human).toContain(`site server key:  ${server.fingerprint} (pinned)`);
      expect(human).toMatch(/licence file: +[0-9a-f-]{36}, made /);
      expect(human).not.toContain(LICENCE);
    },
  );

  it('a power cut while the answer is on its way is replayed with the same Idempotency-Key: one binding', async () => {
    const server = await site({ mode: 'connected', holdAnswers: true });
    const dir = tempDir('cst-register-cli-');
    const hardwareId = testHardwareId();
    const args = [
      'register',
      '--json',
      '--state-dir',
      dir,
      '--hardware-id',
      hardwareId,
      '--site-server',
      server.url,
      '--edge-id',
      'cli-3',
      '--site-server-fingerprint',
      server.fingerprint,
      '--no-connect',
    ];
    const first = startEntry('node', 'src/edge/main.ts', args, { env: { [LICENCE_KEY_ENV]: LICENCE } });
    await waitFor(() => server.requests.some((r) => r.method === 'POST'), { timeoutMs: 30_000 });
    await first.kill('SIGKILL');
    // The pending request survives the power cut, and the licence key is not in it (only its hash).
    const stateFiles = readdirSync(dir).filter((name) => name.startsWith('identity.db'));
    expect(stateFiles).toContain('identity.db');
    for (const file of stateFiles) expect(readFileSync(join(dir, file)).includes(LICENCE)).toBe(false);
    server.releaseHeld();
    const again = startEntry('node', 'src/edge/main.ts', args, { env: { [LICENCE_KEY_ENV]: LICENCE } });
    await waitFor(() => server.requests.filter((r) => r.method === 'POST').length === 2, { timeoutMs: 30_000 });
    server.releaseHeld();
    expect((await again.exited).code).toBe(0);
    const posts = server.requests.filter((r) => r.method === 'POST');
    expect(posts[1]!.idempotencyKey).toBe(posts[0]!.idempotencyKey);
    expect(server.bindings.size).toBe(1);
  });

  it('after a power cut, a run with another licence key or edge id is refused (a licence may be bound); --force abandons it', async () => {
    const server = await site({ mode: 'connected', holdAnswers: true });
    const dir = tempDir('cst-register-cli-');
    const hardwareId = testHardwareId();
    const args = (edgeId: string) => [
      'register',
      '--json',
      '--state-dir',
      dir,
      '--hardware-id',
      hardwareId,
      '--site-server',
      server.url,
      '--edge-id',
      edgeId,
      '--site-server-fingerprint',
      server.fingerprint,
      '--no-connect',
    ];
    const first = startEntry('node', 'src/edge/main.ts', args('cli-6'), { env: { [LICENCE_KEY_ENV]: LICENCE } });
    await waitFor(() => server.requests.some((r) => r.method === 'POST'), { timeoutMs: 30_000 });
    await first.kill('SIGKILL');
    server.releaseHeld();
    const posts = () => server.requests.filter((r) => r.method === 'POST').length;

    const otherKey = await runToEnd(cli.command, [...cli.args, ...args('cli-6')], {
      env: { [LICENCE_KEY_ENV]: 'CST-EDGE-CLIT-0000-0002' },
    });
    expect(otherKey.code).toBe(2);
    expect(otherKey.stderr).toMatch(
      /interrupted register with the site server .* for edge cli-6, started .*licence key may already be bound.*register command again.*--force/s,
    );
    const otherEdge = await runToEnd(cli.command, [...cli.args, ...args('cli-7')], {
      env: { [LICENCE_KEY_ENV]: LICENCE },
    });
    expect(otherEdge.code).toBe(2);
    expect(otherEdge.stderr).toMatch(/interrupted register /);
    expect(otherEdge.stderr).not.toContain('usage:');
    expect(posts()).toBe(1);

    const forced = startEntry('node', 'src/edge/main.ts', [...args('cli-7'), '--force'], {
      env: { [LICENCE_KEY_ENV]: 'CST-EDGE-CLIT-0000-0002' },
    });
    await waitFor(() => posts() === 2, { timeoutMs: 30_000 });
    server.releaseHeld();
    expect((await forced.exited).code).toBe(0);
    const [abandoned, fresh] = server.requests.filter((r) => r.method === 'POST');
    expect(fresh!.idempotencyKey).not.toBe(abandoned!.idempotencyKey);
    // Registered through a site server, a second run says "registered", not "paired".
    const again = await runToEnd(cli.command, [...cli.args, ...args('cli-7')], { env: { [LICENCE_KEY_ENV]: LICENCE } });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already registered as cli-7 .*--force to register again/);
  }, 180_000); // six CLI processes in a row: on two loaded cores each start alone can take seconds

  it('an address with a path (or the cloud instead of the site server): one line that says to give the edge address', async () => {
    const server = await site({ mode: 'connected' });
    const result = await register('node', [
      ...['--state-dir', tempDir('cst-register-cli-'), '--hardware-id', testHardwareId()],
      ...['--site-server', `${server.url}/health`, '--edge-id', 'cli-path'],
      ...['--site-server-fingerprint', server.fingerprint, '--max-attempts', '2'],
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /answers, but not as a site server's edge API \(404 for \/api\/edge\/identity\): give the site server's edge address with no path/,
    );
    expect(result.stdout).not.toMatch(/retrying/);
    expect(server.requests.filter((r) => r.method === 'POST')).toHaveLength(0); // nothing was registered
  });

  it('a second register while one runs says it is running; pair after an interrupted register names the register', async () => {
    const server = await site({ mode: 'connected', holdAnswers: true });
    const dir = tempDir('cst-register-cli-');
    const hardwareId = testHardwareId();
    const args = [
      ...['register', '--state-dir', dir, '--hardware-id', hardwareId, '--site-server', server.url],
      ...['--edge-id', 'cli-busy', '--site-server-fingerprint', server.fingerprint, '--no-connect'],
    ];
    const running = startEntry('node', 'src/edge/main.ts', args, { env: { [LICENCE_KEY_ENV]: LICENCE } });
    await waitFor(() => server.requests.some((r) => r.method === 'POST'), { timeoutMs: 30_000 });
    const second = await runToEnd(cli.command, [...cli.args, ...args], { env: { [LICENCE_KEY_ENV]: LICENCE } });
    expect(second.code).toBe(2);
    expect(second.stderr).toContain('another pair or register is running on this device right now');
    expect(second.stderr).not.toMatch(/interrupted|did not finish/);
    await running.kill('SIGKILL');
    server.releaseHeld();

    // pair after the interrupted register: refused before any network step, naming the register, without usage.
    const uri = buildPairingUri({
      cloud: 'http://127.0.0.1:9',
      org: randomUUID(),
      site: randomUUID(),
      code: '7KQ4-MX29',
    });
    const pair = await runToEnd(
      cli.command,
      [...cli.args, 'pair', '--state-dir', dir, '--hardware-id', hardwareId, '--edge-id', 'cli-busy'],
      { env: { [PAIRING_URI_ENV]: uri } },
    );
    expect(pair.code).toBe(2);
    expect(pair.stderr).toMatch(
      new RegExp(
        `interrupted register with the site server ${server.url} for edge cli-busy, started .*licence key may already be bound.*register command again`,
        's',
      ),
    );
    expect(pair.stderr).not.toMatch(/pairing code may|usage:/);

    // status and doctor name the pending request and the command that finishes it, never pair --uri.
    const status = await runToEnd(cli.command, [...cli.args, 'status', '--json', '--state-dir', dir]);
    expect(JSON.parse(status.stdout).pendingRequest).toMatchObject({
      command: 'register',
      server: server.url,
      edgeId: 'cli-busy',
    });
    const finish = `consystence-edge register --site-server ${server.url} --site-server-fingerprint … --edge-id cli-busy`;
    const text = await runToEnd(cli.command, [...cli.args, 'status', '--state-dir', dir]);
    expect(text.stdout).toContain(`next step: an interrupted register with the site server ${server.url}`);
    expect(text.stdout).toContain(finish);
    const doctor = await runToEnd(cli.command, [
      ...cli.args,
      'doctor',
      '--state-dir',
      dir,
      '--hardware-id',
      hardwareId,
    ]);
    expect(doctor.stdout).toContain(finish);
    expect(`${text.stdout}${doctor.stdout}`).not.toContain('pair --uri');
  });

  it("a lost answer from the site server is retried in the site server's words, not the cloud's", async () => {
    const server = await site({ mode: 'air-gapped', dropFirstAnswer: true });
    const result = await register('node', [
      ...['--state-dir', tempDir('cst-register-cli-'), '--hardware-id', testHardwareId(), '--json'],
      ...['--site-server', server.url, '--edge-id', 'cli-words', '--site-server-fingerprint', server.fingerprint],
      '--no-connect',
    ]);
    expect(result.code, result.stderr).toBe(0);
    const retries = result.stdout.split('\n').filter((line) => line.includes('"status":"retry"'));
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatch(/the site server/);
    expect(retries[0]).not.toMatch(/the cloud/);
  });

  it('--licence-key - on a terminal reads the key without echoing it', async () => {
    const server = await site({ mode: 'air-gapped' });
    // `script` gives the CLI a real pseudo-terminal; everything the terminal shows comes back on its stdout.
    const command = [
      ...[cli.command, ...cli.args, 'register', '--state-dir', tempDir('cst-register-tty-')],
      ...['--hardware-id', testHardwareId(), '--site-server', server.url, '--edge-id', 'cli-tty'],
      ...['--site-server-fingerprint', server.fingerprint, '--no-connect', '--licence-key', '-'],
    ].join(' ');
    const terminal = spawn('script', ['-qec', command, '/dev/null'], {
      cwd: ROOT,
      env: { ...process.env, [LICENCE_KEY_ENV]: '' },
    });
    let screen = '';
    terminal.stdout.on('data', (chunk: Buffer) => (screen += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => terminal.on('exit', resolve));
    // Typed only once the prompt shows: the terminal is in no-echo mode by then.
    await waitFor(() => screen.includes('licence key (not shown): '), { timeoutMs: 60_000, what: 'the prompt' });
    terminal.stdin.write(`${LICENCE}\r`);
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 90_000))]);
    if (code === 'timeout') terminal.kill('SIGKILL');
    expect(code, screen).toBe(0);
    expect(screen).toContain('registered: cli-tty');
    expect(screen).not.toContain(LICENCE);
  });

  it('register --force on a registered device warns that the key it registered with stays bound', async () => {
    const server = await site({ mode: 'air-gapped' });
    const dir = tempDir('cst-register-cli-');
    const args = [
      ...['--state-dir', dir, '--hardware-id', testHardwareId(), '--site-server', server.url],
      ...['--edge-id', 'cli-force', '--site-server-fingerprint', server.fingerprint, '--no-connect'],
    ];
    const first = await register('node', args);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).not.toContain('stays bound');
    const forced = await register('node', [...args, '--force'], { [LICENCE_KEY_ENV]: 'CST-EDGE-CLIT-0000-0009' });
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toContain('warning: this device is registered as cli-force already');
    expect(forced.stderr).toMatch(/first key stays bound to this device \(two licences spent\).*site admin/);
    expect(server.bindings.size).toBe(2);
  });

  it('reset after an interrupted register names it and refuses; --force warns the licence may stay bound; after a register it suggests register', async () => {
    const server = await site({ mode: 'connected', holdAnswers: true });
    const dir = tempDir('cst-register-cli-');
    const args = [
      ...['register', '--state-dir', dir, '--hardware-id', testHardwareId(), '--site-server', server.url],
      ...['--edge-id', 'cli-reset', '--site-server-fingerprint', server.fingerprint, '--no-connect'],
    ];
    const first = startEntry('node', 'src/edge/main.ts', args, { env: { [LICENCE_KEY_ENV]: LICENCE } });
    await waitFor(() => server.requests.some((r) => r.method === 'POST'), { timeoutMs: 30_000 });
    await first.kill('SIGKILL');
    server.releaseHeld();
    const reset = (...extra: string[]) =>
      runToEnd(cli.command, [...cli.args, 'reset', '--yes', '--state-dir', dir, ...extra]);

    const refused = await reset();
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      new RegExp(
        `interrupted register with the site server ${server.url} for edge cli-reset, started .*licence key may already be bound.*--force`,
        's',
      ),
    );
    // Nothing changed: the same command still finishes the interrupted request, with the same Idempotency-Key.
    const finished = startEntry('node', 'src/edge/main.ts', args, { env: { [LICENCE_KEY_ENV]: LICENCE } });
    await waitFor(() => server.requests.filter((r) => r.method === 'POST').length === 2, { timeoutMs: 30_000 });
    server.releaseHeld();
    expect((await finished.exited).code).toBe(0);
    const [cut, replay] = server.requests.filter((r) => r.method === 'POST');
    expect(replay!.idempotencyKey).toBe(cut!.idempotencyKey);

    // Registered through the site server: reset suggests register with it, not pair --uri.
    const done = await reset();
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toContain(
      `consystence-edge register --site-server ${server.url} --site-server-fingerprint ${server.fingerprint} --edge-id cli-reset`,
    );
    expect(done.stdout).not.toContain('pair --uri');

    // Interrupted again, then abandoned with --force: done, with the warning the licence may stay bound.
    const second = startEntry('node', 'src/edge/main.ts', args, { env: { [LICENCE_KEY_ENV]: LICENCE } });
    await waitFor(() => server.requests.filter((r) => r.method === 'POST').length === 3, { timeoutMs: 30_000 });
    await second.kill('SIGKILL');
    server.releaseHeld();
    const forced = await reset('--force');
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toMatch(
      /warning: an interrupted register .* abandoned: .*stays bound until the site admin releases it/,
    );
    expect((await reset()).code).toBe(0);
  });

  // The clock step judges the local clock alone (before 2020 is implausible); reach-site measures it.
  it.each([
    {
      clock: '+730d',
      step: 'reach-site',
      says: /clock is 2 years ahead of the site server.*the site server's time is used/,
    },
    {
      clock: '@2001-01-01 00:00:00',
      step: 'clock',
      says: /the local clock says 2001-.*; the site server's time will be used instead/,
    },
  ])(
    "a device clock at $clock is warned about at the $step step, and registers on the site server's time",
    async ({ clock, step, says }) => {
      const server = await site({ mode: 'air-gapped' });
      const [wrapper, ...wrapped] = fakeClock(clock);
      const result = await runToEnd(
        wrapper!,
        [
          ...[...wrapped, cli.command, ...cli.args, 'register', '--state-dir', tempDir('cst-register-cli-')],
          ...['--hardware-id', testHardwareId(), '--site-server', server.url, '--edge-id', 'cli-clock'],
          ...['--site-server-fingerprint', server.fingerprint, '--no-connect', '--json'],
        ],
        { env: { [LICENCE_KEY_ENV]: LICENCE } },
      );
      expect(result.code, result.stderr).toBe(0);
      const warned = result.stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .find((line) => line.step === step && line.status !== 'start');
      expect(warned).toMatchObject({ status: 'warn' });
      expect(String(warned?.message)).toMatch(says);
      expect(String(warned?.message)).not.toMatch(/the cloud/);
    },
  );

  it('a frozen site server (SIGSTOP: TCP accepts, TLS never answers): progress, a waiting line, the reason in words', async () => {
    // A real process listening on loopback, then stopped: the kernel still completes the TCP handshake.
    const frozen = await startFrozenListener();
    try {
      const { port } = frozen;
      const result = await register('node', [
        ...['--state-dir', tempDir('cst-register-cli-'), '--hardware-id', testHardwareId()],
        ...['--site-server', `https://127.0.0.1:${port}`, '--edge-id', 'cli-8'],
        ...['--site-server-fingerprint', `sha256:${'a'.repeat(64)}`, '--max-attempts', '2'],
      ]);
      expect(result.code).toBe(4);
      const lines = result.stdout.split('\n');
      const at = (pattern: RegExp) => lines.findIndex((line) => pattern.test(line));
      const contacting = at(new RegExp(`contacting the site server at https://127\\.0\\.0\\.1:${port}`));
      const waiting = at(/still waiting: the site server accepted the connection but has not answered TLS yet/);
      const retry = at(
        /retrying: the site server at 127\.0\.0\.1:\d+ accepted the connection but did not answer TLS within 15 s: is it overloaded or stopped\?; trying again in/,
      );
      expect(
        [contacting, waiting, retry].every((index) => index >= 0),
        result.stdout,
      ).toBe(true);
      expect(contacting < waiting && waiting < retry, result.stdout).toBe(true);
      expect(result.stderr).toMatch(/did not answer TLS within 15 s: is it overloaded or stopped\?/);
    } finally {
      frozen.release();
    }
  }, 120_000);

  it('a power cut at any moment of register: the next run finishes it, and the site server decided it once', async () => {
    const server = await site({ mode: 'air-gapped' });
    const args = (dir: string, hardwareId: string) => [
      ...['register', '--json', '--state-dir', dir, '--hardware-id', hardwareId, '--site-server', server.url],
      ...['--edge-id', 'cli-cut', '--site-server-fingerprint', server.fingerprint, '--no-connect'],
    ];
    // One uncut run measures how long register takes here; the cuts fall at fractions of it.
    const measured = Date.now();
    const uncut = await register('node', args(tempDir('cst-register-cut-'), testHardwareId()).slice(1), {
      [LICENCE_KEY_ENV]: 'CST-EDGE-CUTS-0000-0000',
    });
    expect(uncut.code, uncut.stderr).toBe(0);
    const span = Date.now() - measured;
    for (const [round, fraction] of [0.3, 0.5, 0.7, 0.8, 0.9, 0.95].entries()) {
      const key = `CST-EDGE-CUTS-0000-000${round + 1}`;
      const dir = tempDir('cst-register-cut-');
      const hardwareId = testHardwareId();
      const first = startEntry('node', 'src/edge/main.ts', args(dir, hardwareId), { env: { [LICENCE_KEY_ENV]: key } });
      await new Promise((resolve) => setTimeout(resolve, span * fraction));
      await first.kill('SIGKILL');
      const again = await register('node', args(dir, hardwareId).slice(1), { [LICENCE_KEY_ENV]: key });
      // Killed after the save, the device is registered already: `register` says so (exit 2) and changes nothing.
      expect([0, 2], again.stderr).toContain(again.code);
      const status = await runToEnd(cli.command, [...cli.args, 'status', '--json', '--state-dir', dir]);
      expect(JSON.parse(status.stdout)).toMatchObject({ edgeId: 'cli-cut', registeredVia: 'site-air-gapped' });
      expect(server.decided.get(key), `decided registrations, cut at ${fraction} of ${span} ms`).toBe(1);
    }
  });

  it('the service registers from the registration file at first boot, and not again after a reset', async () => {
    const server = await site({ mode: 'air-gapped' });
    const dir = tempDir('cst-register-file-');
    const file = join(dir, 'registration');
    writeFileSync(
      file,
      `# written by the installer\nsite-server=${server.url}\nfingerprint=${server.fingerprint}\nedge-id=file-1\nlicence-key=${LICENCE}\n`,
      { mode: 0o600 },
    );
    const common = ['--state-dir', dir, '--hardware-id', testHardwareId(), '--pairing-uri-file', join(dir, 'none')];
    const service = startEntry('node', 'src/edge/main.ts', ['run', '--json', ...common, '--registration-file', file]);
    await service.waitForLine((line) => line.event === 'registered', 60_000);
    await service.kill('SIGTERM');
    expect(server.bindings.size).toBe(1);
    expect(service.stderr.join('\n')).not.toContain(LICENCE);
    const reset = await runToEnd(cli.command, [...cli.args, 'reset', '--yes', '--state-dir', dir]);
    expect(reset.code, reset.stderr).toBe(0);
    const again = await runToEnd(cli.command, [...cli.args, 'run', ...common, '--registration-file', file]);
    expect(again.code).toBe(7);
    expect(again.stderr).toContain('was used before');
  });

  it('a registration file every user can read is used, with a warning in the output, the log and doctor', async () => {
    const server = await site({ mode: 'air-gapped' });
    const dir = tempDir('cst-register-file-');
    const file = join(dir, 'registration');
    writeFileSync(
      file,
      `site-server=${server.url}\nfingerprint=${server.fingerprint}\nedge-id=file-2\nlicence-key=${LICENCE}\n`,
    );
    chmodSync(file, 0o644);
    const service = startEntry('node', 'src/edge/main.ts', [
      ...['run', '--json', '--state-dir', dir, '--hardware-id', testHardwareId()],
      ...['--pairing-uri-file', join(dir, 'none'), '--registration-file', file],
    ]);
    const warning = await service.waitForLine((line) => line.event === 'registration_file_exposed', 60_000);
    expect(String(warning.message)).toContain(`${file} (mode 0644) can be read by every user`);
    await service.waitForLine((line) => line.event === 'registered', 60_000);
    await service.kill('SIGTERM');
    expect(service.stderr.join('\n')).toContain('registration_file_exposed');
    const doctor = await runToEnd(cli.command, [...cli.args, 'doctor', '--json', '--state-dir', dir], {
      env: { [REGISTRATION_FILE_ENV]: file },
    });
    const checks = JSON.parse(doctor.stdout).checks as Array<{ name: string; level: string; detail: string }>;
    expect(checks.find((c) => c.name === 'registration-file')).toMatchObject({ level: 'warn' });
    chmodSync(file, 0o600);
    const quiet = await runToEnd(cli.command, [...cli.args, 'doctor', '--json', '--state-dir', dir], {
      env: { [REGISTRATION_FILE_ENV]: file },
    });
    expect(JSON.parse(quiet.stdout).checks.map((c: { name: string }) => c.name)).not.toContain('registration-file');
    expect(`${JSON.stringify(service.lines)}${service.stderr.join('\n')}`).not.toContain(LICENCE);
  });
});
