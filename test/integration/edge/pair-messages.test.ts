/**
 * What a technician's terminal shows when pairing goes wrong, against a tiny real HTTP "cloud" on loopback whose
 * answers the test chooses, and the real CLI in a child process:
 * - the pairing code never sits on the command line (`/proc/<pid>/cmdline`) with --uri-file or stdin (18.6);
 * - a cloud message carrying ANSI escapes cannot draw fake "ok: paired" lines (18.9);
 * - a refused code is echoed to the terminal, never to the log, and `--json` carries the cloud's code (12.15);
 * - a URI cut by the shell at `&` says to quote it (12.15).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { commandFor, ROOT, runToEnd } from '../../helpers/process.js';
import { tempDir, testHardwareId } from '../../helpers/tmp.js';

const ORG = '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0c11';
const SITE = '4f31da63-f4af-492e-8653-45fa4709dff7';
const CODE = '7KQ4-MX29';

type Answer = (req: IncomingMessage, res: ServerResponse) => void;
const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A loopback "cloud": a valid-looking JWKS, and `register` answers register-edge. Records each request path. */
async function fakeCloud(register: Answer) {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(req.url ?? '');
    if (req.url === '/.well-known/jwks.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [{ kty: 'EC', kid: 'k1', alg: 'ES256' }] }));
      return;
    }
    req.resume();
    req.on('end', () => register(req, res));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const uri = `consystence-edge://pair?cloud=${encodeURIComponent(url)}&org=${ORG}&site=${SITE}&code=${CODE}`;
  return { url, uri, seen };
}

const refuse =
  (status: number, code: string, message: string): Answer =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code, message } }));
  };

const commandAndArgs = (c: { command: string; args: string[] }) => [c.command, c.args] as const;

function edgeArgs(...extra: string[]) {
  const { command, args } = commandFor('node', 'src/edge/main.ts');
  const base = ['--state-dir', tempDir('cst-pairmsg-'), '--hardware-id', testHardwareId('pairmsg')];
  return {
    command,
    args: [...args, 'pair', '--edge-id', 'orin-1', '--no-connect', '--max-attempts', '1', ...base, ...extra],
  };
}

describe('pair: secrets stay off the command line', () => {
  it.each(['--uri-file', 'stdin'])(
    'with %s, /proc/<pid>/cmdline of the pairing process never holds the code',
    async (how) => {
      // register-edge never answers: the process is caught mid-pairing, after it has read its input.
      let registering!: () => void;
      const reached = new Promise<void>((resolve) => (registering = resolve));
      const cloud = await fakeCloud(() => registering());
      const file = join(tempDir('cst-urifile-'), 'uri');
      writeFileSync(file, `${cloud.uri}\n`, { mode: 0o600 });
      const { command, args } = edgeArgs(...(how === 'stdin' ? ['--uri', '-'] : ['--uri-file', file]));
      const child = spawn(command, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.stdin.end(how === 'stdin' ? `${cloud.uri}\n` : '');
      try {
        await Promise.race([
          reached,
          once(child, 'exit').then(() => {
            throw new Error(`pair exited before registering: ${stderr}`);
          }),
          new Promise((_, reject) => setTimeout(() => reject(new Error('no register-edge within 60 s')), 60_000)),
        ]);
        const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8');
        expect(cmdline).toContain('pair');
        expect(cmdline).not.toContain(CODE);
        expect(cmdline).not.toContain('code=');
        expect(stderr).not.toMatch(/visible to every user/);
      } finally {
        child.kill('SIGKILL');
        await once(child, 'exit').catch(() => {});
      }
    },
    90_000,
  );

  it('--uri with a code still works, with a warning about ps', async () => {
    const cloud = await fakeCloud(refuse(401, 'PAIRING_CODE_USED', 'used'));
    const { command, args } = edgeArgs('--uri', cloud.uri);
    const result = await runToEnd(command, args);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/warning: the pairing code given with --uri is visible to every user.*--uri -/);
  }, 60_000);
});

describe('pair: what the terminal shows', () => {
  it('a cloud message with ANSI escapes cannot fake "ok: paired" lines', async () => {
    const forged =
      'nope\u001b[1A\u001b[2K\r  ok: registered as orin-1\n  ok: registration saved\npaired: orin-1\u001b[0m';
    const cloud = await fakeCloud(refuse(400, 'TEAPOT', forged));
    const { command, args } = edgeArgs('--uri-file', writeUri(cloud.uri));
    const result = await runToEnd(command, args);
    expect(result.code).toBe(3);
    const shown = result.stdout + result.stderr;
    expect(shown).not.toMatch(/[\u001b\r]/);
    expect(result.stdout.split('\n').filter((l) => /^\s*ok: regist/.test(l))).toEqual([]);
    expect(shown.split('\n').some((l) => l.startsWith('paired:'))).toBe(false);
    expect(result.stdout).toMatch(/FAILED: the cloud refused the request \(HTTP 400 TEAPOT\): nope/);
  }, 60_000);

  it('--json carries a cloud code only when it looks like one (outside test item 6)', async () => {
    const cloud = await fakeCloud(refuse(400, 'PAIRING_CODE_INVALID\u001b[2K\r  ok: paired', 'nope'));
    const result = await runToEnd(...commandAndArgs(edgeArgs('--uri-file', writeUri(cloud.uri), '--json')));
    expect(result.code).toBe(3);
    const last = JSON.parse(result.stdout.trim().split('\n').at(-1)!);
    expect(last.paired).toBe(false);
    expect(last.error.cloudCode).toBeNull();
    expect(result.stdout).not.toMatch(/\\u001b|ok: paired/);
  }, 60_000);

  it('a 5xx with a 200 KB text body reads as a cloud error, retried, not as "too large" (outside test item 7)', async () => {
    let registers = 0;
    const cloud = await fakeCloud((_req, res) => {
      registers++;
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`\u001b[2Jproxy error ${'B'.repeat(200_000)}`);
    });
    const { command, args } = edgeArgs('--uri-file', writeUri(cloud.uri));
    const result = await runToEnd(
      command,
      args.map((a, i) => (args[i - 1] === '--max-attempts' ? '2' : a)),
    );
    const shown = result.stdout + result.stderr;
    expect(shown).not.toMatch(/too large/);
    expect(shown).toMatch(/500/);
    expect(result.code).not.toBe(5); // 5: verification failed
    expect(registers).toBe(2); // retried like any 5xx
  }, 90_000);

  it('a refused code is echoed on the terminal with typo-or-expired advice, never in the log; --json has the cloud code', async () => {
    const cloud = await fakeCloud(refuse(401, 'PAIRING_CODE_INVALID', 'unknown or expired'));
    const human = edgeArgs('--uri-file', writeUri(cloud.uri));
    const result = await runToEnd(human.command, human.args);
    expect(result.code).toBe(3);
    const message = result.stderr.split('\n').find((l) => l.startsWith('consystence-edge pair:'))!;
    expect(message).toMatch(/mistyped or expired \(the cloud does not say which/);
    expect(message).toContain(`code tried: ${CODE}`);

    // The service pairing from the pairing-URI file logs each step: the refusal is there, the code is not.
    const { command, args } = commandFor('node', 'src/edge/main.ts');
    const serviceFlags = [
      '--pairing-uri-file',
      writeUri(cloud.uri),
      '--state-dir',
      tempDir('cst-pairmsg-'),
      '--hardware-id',
      testHardwareId('pairmsg-run'),
    ];
    const service = await runToEnd(command, [...args, 'run', '--producer-port', 'off', ...serviceFlags]);
    expect(service.code).toBe(3);
    const logLines = service.stderr.split('\n').filter((l) => l.startsWith('{'));
    expect(logLines.some((l) => l.includes('PAIRING_CODE_INVALID') || l.includes('mistyped or expired'))).toBe(true);
    expect(service.stderr).not.toContain(CODE);
    expect(service.stderr).not.toContain(CODE.replace('-', ''));

    // status: the file still waits, and the service's last attempt failed for this reason.
    const status = await runToEnd(command, [...args, 'status', ...serviceFlags]);
    expect(status.stdout).toMatch(/pairing-URI file: .*\(waiting: the service pairs from it when it starts\)/);
    expect(status.stdout).toMatch(
      /last attempt: +failed at \S+: the cloud does not accept this pairing code.*\(PAIRING_CODE_INVALID\)/,
    );
    expect(status.stdout).not.toContain(CODE);
    const statusJson = JSON.parse((await runToEnd(command, [...args, 'status', '--json', ...serviceFlags])).stdout);
    expect(statusJson.pairingUriFile).toMatchObject({
      waiting: true,
      lastFailure: { cloudCode: 'PAIRING_CODE_INVALID' },
    });

    const json = edgeArgs('--uri-file', writeUri(cloud.uri), '--json');
    const failed = await runToEnd(json.command, json.args);
    expect(failed.code).toBe(3);
    const last = JSON.parse(failed.stdout.trim().split('\n').at(-1)!);
    expect(last).toMatchObject({
      paired: false,
      error: { code: 'CLOUD_REFUSED', cloudCode: 'PAIRING_CODE_INVALID' },
      exitCode: 3,
    });
    expect(failed.stdout).not.toContain(CODE);
  }, 90_000);

  it('a URI cut by the shell at & says to quote it, and nothing is sent', async () => {
    const cloud = await fakeCloud(refuse(500, 'INTERNAL_ERROR', 'not reached'));
    const cut = `consystence-edge://pair?cloud=${encodeURIComponent(cloud.url)}`;
    const { command, args } = edgeArgs('--uri', cut);
    const result = await runToEnd(command, args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/the shell cut it at the '&'.*single quotes.*'pair --uri -'/);
    expect(result.stderr).not.toMatch(/ask for a new one/);
    expect(cloud.seen).toEqual([]);
  }, 60_000);
});

function writeUri(uri: string): string {
  const file = join(tempDir('cst-urifile-'), 'uri');
  writeFileSync(file, `${uri}\n`, { mode: 0o600 });
  return file;
}
