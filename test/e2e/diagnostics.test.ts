/**
 * Remote diagnostics end to end (issue 14), with real processes: a mock cloud process, the mock site server, and
 * the real `consystence-edge` CLI under Node and under Bun (the device's runtime and SQLite driver). A real support bundle is written by the CLI (service stopped, then
 * running), unpacked with the system's tar and grepped for the device's actual token, private key (d) and a
 * pairing code; the site asks for doctor and for a bundle over P/cmd, the edge uploads it over HTTP, and the
 * bundle is downloaded and inspected; the upload URL refuses reuse, a missing or bad token and an oversize body;
 * a config push changes the log level and the log file's bounds at run time; `watch` streams the live traffic.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandFor, runToEnd, startEntry, type Child, type Runtime } from '../helpers/process.js';
import { tempDir, testHardwareId } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { createSite, DEMO_ORG_ID, startCloudProcess, type CloudProcess } from './support/cloud.js';
import { startSite, type Site } from './support/site.js';

const EDGE = 'src/edge/main.ts';
const BUNDLE_PARTS = [
  'manifest.json',
  'version.json',
  'schema.json',
  'status.json',
  'doctor.json',
  'integrity.json',
  'config.json',
  'outbox.json',
  'system.json',
  'state-dir.json',
  'pairing-uri-file.json',
  'logs/edge.log',
];

/**
 * A PUT to the site server's edge listener as a test client (the device's own trust in its certificate is what
 * the upload tests prove; this client only knocks). `chunks` are written without a length, as a stream.
 */
function putToSite(url: string, headers: Record<string, string>, chunks: Buffer[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: 'PUT', headers, rejectUnauthorized: false, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

describe.each(['node', 'bun'] as Runtime[])('remote diagnostics under %s', (runtime) => {
  let cloud: CloudProcess;
  let site: Site;
  let siteId: string;
  let service: Child | null = null;
  const stateDir = tempDir('cst-diag-');
  const work = tempDir('cst-diag-out-');
  const uriFile = join(work, 'pairing-uri');
  const edgeId = `orin-diag-${runtime}`;
  const base = ['--state-dir', stateDir, '--hardware-id', testHardwareId('diag'), '--log-level', 'debug'];
  const secrets = { token: '', d: '', code: '' };
  const cli = (args: string[]) => {
    const { command, args: prefix } = commandFor(runtime, EDGE);
    return runToEnd(command, [...prefix, ...args], { timeoutMs: 60_000 });
  };
  const startService = async () => {
    service = startEntry(runtime, EDGE, [
      'run',
      '--json',
      ...base,
      '--producer-port',
      'off',
      '--pairing-uri-file',
      uriFile,
    ]);
    await service.waitForLine((l) => l.event === 'started', 30_000);
    await site.waitForPresence(edgeId, (p) => p.state === 'online');
  };
  const stopService = async () => {
    await service?.kill('SIGTERM');
    service = null;
  };
  /** Every secret the bundle must not hold, in each form it could take. */
  const assertNoSecrets = (gz: Buffer) => {
    const tar = gunzipSync(gz).toString('latin1');
    expect(tar.includes(secrets.token), 'the edge token is in the bundle').toBe(false);
    expect(tar.includes(secrets.d), "the private key's d is in the bundle").toBe(false);
    expect(tar.includes(secrets.code), 'the pairing code is in the bundle').toBe(false);
    expect(tar.includes(secrets.code.replace('-', '')), 'the pairing code (no dash) is in the bundle').toBe(false);
  };
  const unpack = (gz: Buffer, name: string) => {
    const file = join(work, `${name}.tar.gz`);
    writeFileSync(file, gz);
    const dir = join(work, name);
    mkdirSync(dir);
    execFileSync('tar', ['-xzf', file, '-C', dir]);
    return join(dir, 'consystence-edge-support');
  };

  beforeAll(async () => {
    cloud = await startCloudProcess();
    siteId = await createSite(cloud.admin, `diag-${runtime}`);
    site = await startSite(cloud, siteId);
    const { pairingUri } = await cloud.admin.createPairingCode(DEMO_ORG_ID, siteId, {});
    const paired = await cli(['pair', '--uri', pairingUri, '--edge-id', edgeId, ...base]);
    expect(paired.code, paired.stderr).toBe(0);
    // An unused pairing URI waiting in its file: the bundle lists the file but must not carry its code.
    const spare = await cloud.admin.createPairingCode(DEMO_ORG_ID, siteId, {});
    writeFileSync(uriFile, `${spare.pairingUri}\n`, { mode: 0o600 });
    secrets.code = spare.code;
    const db = new Database(join(stateDir, 'identity.db'), { readonly: true });
    secrets.token = (db.prepare('SELECT edge_token FROM registration').get() as { edge_token: string }).edge_token;
    secrets.d = JSON.parse(
      (db.prepare('SELECT private_jwk FROM identity').get() as { private_jwk: string }).private_jwk,
    ).d;
    db.close();
    expect(secrets.token.length).toBeGreaterThan(100);
    expect(secrets.d.length).toBeGreaterThan(20);
  });

  afterAll(async () => {
    await service?.kill('SIGKILL');
    await cloud?.child.kill('SIGKILL');
  });

  it('writes a bundle with the service stopped, changes no state, and carries no secret', async () => {
    // A secret that reached a log line by some future bug must still be scrubbed.
    appendFileSync(
      join(stateDir, 'edge.log.1'),
      `${JSON.stringify({ ts: new Date().toISOString(), level: 'info', event: 'leak', note: `t=${secrets.token} c=${secrets.code}` })}\n`,
      { mode: 0o600 },
    );
    const digest = () =>
      ['identity.db', 'outbox.db'].map((f) =>
        createHash('sha256')
          .update(readFileSync(join(stateDir, f)))
          .digest('hex'),
      );
    const dbBefore = digest();
    const filesBefore = readdirSync(stateDir);
    const out = join(work, 'stopped.tar.gz');
    const result = await cli(['support-bundle', '--out', out, '--pairing-uri-file', uriFile, '--json', ...base]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).file).toBe(out);
    expect(statSync(out).mode & 0o777).toBe(0o600);

    expect(digest()).toEqual(dbBefore);
    // Only SQLite's own WAL companions may appear (see storage/open-readonly.ts).
    expect(
      readdirSync(stateDir).filter((f) => !filesBefore.includes(f) && !/^(identity|outbox)\.db-(wal|shm)$/.test(f)),
    ).toEqual([]);

    const gz = readFileSync(out);
    assertNoSecrets(gz);
    const dir = unpack(gz, 'stopped');
    for (const part of BUNDLE_PARTS) expect(existsSync(join(dir, part)), part).toBe(true);
    const status = JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8'));
    expect(status.edgeId).toBe(edgeId);
    expect(status.daemon.running).toBe(false);
    expect(JSON.parse(readFileSync(join(dir, 'integrity.json'), 'utf8'))).toEqual({
      identity: { ok: true, messages: ['ok'] },
      outbox: { ok: true, messages: ['ok'] },
    });
    expect(JSON.parse(readFileSync(join(dir, 'doctor.json'), 'utf8')).checks.length).toBeGreaterThan(3);
    expect(JSON.parse(readFileSync(join(dir, 'pairing-uri-file.json'), 'utf8')).present).toBe(true);
    expect(readFileSync(join(dir, 'logs/edge.log'), 'utf8')).toContain('"event":"leak"');
    expect(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')).problems).toEqual({});

    // An existing file is never overwritten.
    const again = await cli(['support-bundle', '--out', out, ...base]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already exists');
  });

  it('writes a bundle from an empty state dir without creating a database', async () => {
    const empty = tempDir('cst-diag-empty-');
    const out = join(work, 'empty.tar.gz');
    const result = await cli(['support-bundle', '--out', out, '--state-dir', empty]);
    expect(result.code, result.stderr).toBe(0);
    expect(readdirSync(empty)).toEqual([]);
    const manifest = JSON.parse(readFileSync(join(unpack(readFileSync(out), 'empty'), 'manifest.json'), 'utf8'));
    expect(manifest.problems['identity.db']).toContain('no database');
  });

  it('says plainly that watch needs the running service', async () => {
    const result = await cli(['watch', ...base]);
    expect(result.code).toBe(9);
    expect(result.stderr).toContain('the edge service is not running');
  });

  it('keeps its own log file (0600) and bundles while the service runs', async () => {
    await startService();
    const log = join(stateDir, 'edge.log');
    await waitFor(() => existsSync(log) && readFileSync(log, 'utf8').includes('"event":"state"'), {
      timeoutMs: 15_000,
      what: 'the service to log to its file',
    });
    expect(statSync(log).mode & 0o777).toBe(0o600);
    const out = join(work, 'running.tar.gz');
    const result = await cli(['support-bundle', '--out', out, '--since', '1h', '--pairing-uri-file', uriFile, ...base]);
    expect(result.code, result.stderr).toBe(0);
    const gz = readFileSync(out);
    assertNoSecrets(gz);
    const dir = unpack(gz, 'running');
    expect(JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8')).daemon.running).toBe(true);
    expect(readFileSync(join(dir, 'logs/edge.log'), 'utf8')).toContain('"event":"mqtt_connected"');
  });

  it('answers doctor over P/cmd', async () => {
    const answer = await site.api('POST', `/edges/${edgeId}/commands`, { name: 'doctor', timeoutMs: 30_000 });
    expect(answer.status).toBe(200);
    expect(answer.body.result.ok).toBe(true);
    const checks = answer.body.result.result.checks as Array<{ name: string; ok: boolean }>;
    expect(checks.find((c) => c.name === 'database')?.ok).toBe(true);
    // Asked while the service runs, the site-server row reads the service's own live session.
    expect(checks.find((c) => c.name === 'site-server')).toMatchObject({ level: 'ok', ok: true });
  });

  it('uploads a support bundle the site asked for, which the site lists and serves', async () => {
    const answer = await site.api('POST', `/edges/${edgeId}/support-bundle`, { since: '1h', timeoutMs: 60_000 });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const meta = answer.body.bundle as { id: string; bytes: number; sha256: string };
    expect(answer.body.result.result.sha256).toBe(meta.sha256);
    const list = await site.api('GET', `/edges/${edgeId}/support-bundles`);
    expect(list.body.data.map((b: { id: string }) => b.id)).toContain(meta.id);
    const download = await fetch(`${site.server.httpUrl}/edges/${edgeId}/support-bundles/${meta.id}`, {
      headers: { authorization: `Bearer ${site.server.controlToken}` },
    });
    expect(download.headers.get('content-type')).toBe('application/gzip');
    const gz = Buffer.from(await download.arrayBuffer());
    expect(createHash('sha256').update(gz).digest('hex')).toBe(meta.sha256);
    assertNoSecrets(gz);
    const dir = unpack(gz, 'remote');
    for (const part of BUNDLE_PARTS) expect(existsSync(join(dir, part)), part).toBe(true);

    // The upload URL was good for that one upload.
    const reuse = await putToSite(answer.body.uploadUrl, { authorization: `Bearer ${secrets.token}` }, [
      Buffer.from('x'),
    ]);
    expect(reuse).toBe(410);
  });

  it('refuses a bundle over the requested cap on the device, before sending', async () => {
    const answer = await site.api('POST', `/edges/${edgeId}/support-bundle`, { maxBytes: 1024, timeoutMs: 60_000 });
    expect(answer.status).toBe(502);
    expect(answer.body.error.message).toContain('over the 1024 bytes');
  });

  it('changes the log level and the log file bounds from a config push', async () => {
    const pushed = await site.api('POST', `/edges/${edgeId}/config`, {
      config: { logs: { level: 'warn', fileSizeKb: 1, files: 2 } },
      wait: true,
    });
    expect(pushed.body.reported.status).toBe('applied');
    // A repeated warning is logged once per window, so the file is rotated with different ones: configs refused
    // for twelve different keys (the reason names each key briefly) make about 3 KiB of warn lines, enough to rotate
    // the earlier info and debug lines out of the two files kept.
    for (const letter of 'abcdefghijkl') {
      const payload = JSON.stringify({ version: 90, config: { [letter.repeat(900)]: 1 } });
      await site.api('POST', `/edges/${edgeId}/raw`, { channel: 'config', payload });
    }
    await waitFor(() => readFileSync(join(stateDir, 'edge.log'), 'utf8').includes('llllllll'), {
      timeoutMs: 15_000,
      what: 'the last warning in the log file',
    });
    await waitFor(() => existsSync(join(stateDir, 'edge.log.1')), { timeoutMs: 15_000, what: 'a rotation' });
    expect(statSync(join(stateDir, 'edge.log')).size).toBeLessThanOrEqual(1024 + 600);
    expect(existsSync(join(stateDir, 'edge.log.2'))).toBe(false);
    // At warn, info lines (a config applied) are no longer written.
    // A push replaces the whole config, so it repeats the log settings to stay at warn.
    await site.api('POST', `/edges/${edgeId}/config`, {
      config: { heartbeatSeconds: 30, logs: { level: 'warn', fileSizeKb: 1, files: 2 } },
      wait: true,
    });
    const text = readFileSync(join(stateDir, 'edge.log'), 'utf8') + readFileSync(join(stateDir, 'edge.log.1'), 'utf8');
    expect(text).not.toContain('"level":"info"');
    await site.api('POST', `/edges/${edgeId}/config`, {
      config: { logs: { level: 'debug', fileSizeKb: 1024 } },
      wait: true,
    });
  });

  it('streams the live traffic to watch, without secrets, until Ctrl-C', async () => {
    const watcher = startEntry(runtime, EDGE, ['watch', '--json', ...base]);
    await waitFor(() => existsSync(join(stateDir, 'watch.sock')), { timeoutMs: 5_000, what: 'the watch socket' });
    expect(statSync(join(stateDir, 'watch.sock')).mode & 0o777).toBe(0o600);
    // Give the watcher a moment to connect, then make traffic both ways.
    await waitFor(
      async () => {
        await site.api('POST', `/edges/${edgeId}/commands`, { name: 'ping', timeoutMs: 10_000 });
        // Both ways seen: a watcher that connected between a ping and its answer saw only half of that one.
        return (
          watcher.lines.some((l) => l.direction === 'in' && String(l.topic).endsWith('/cmd')) &&
          watcher.lines.some((l) => l.direction === 'out' && String(l.topic).endsWith('/cmd/result'))
        );
      },
      { timeoutMs: 30_000, what: 'a ping and its result in the watch feed' },
    );
    const incoming = watcher.lines.find((l) => l.direction === 'in' && String(l.topic).endsWith('/cmd'));
    expect(incoming?.summary).toContain('"name":"ping"');
    expect(JSON.stringify(watcher.lines)).not.toContain(secrets.token);
    const exit = await watcher.kill('SIGINT');
    expect(exit.code).toBe(0);
    expect(service?.proc.exitCode).toBe(null);
  });

  it('tells a watcher when the service stops', async () => {
    const watcher = startEntry(runtime, EDGE, ['watch', ...base]);
    await waitFor(() => watcher.stderr.some((l) => l.startsWith('watching ')), {
      timeoutMs: 15_000,
      what: 'watch to start',
    });
    await stopService();
    await waitFor(() => watcher.proc.exitCode !== null, { timeoutMs: 15_000, what: 'watch to end' });
    expect(watcher.proc.exitCode).toBe(9);
    expect(watcher.stderr.join('\n')).toContain('the edge service closed the feed');
  });

  it('refuses uploads without a valid edge token, over the size cap while streaming, and once used', async () => {
    // With the service stopped nobody answers: the 504 still names the upload URL the edge would have used.
    const asked = await site.api('POST', `/edges/${edgeId}/support-bundle`, { maxBytes: 2048, timeoutMs: 200 });
    expect(asked.status).toBe(504);
    const url = asked.body.uploadUrl as string;
    const x = [Buffer.from('x')];
    const bearer = { authorization: `Bearer ${secrets.token}` };
    expect(await putToSite(url, {}, x)).toBe(401);
    expect(await putToSite(url, { authorization: 'Bearer not-a-token' }, x)).toBe(401);
    // Refused attempts do not use up the URL; an oversize body does (and is cut off while it streams).
    expect(
      await putToSite(
        url,
        bearer,
        Array.from({ length: 8 }, () => Buffer.alloc(1024)),
      ),
    ).toBe(413);
    expect(await putToSite(url, bearer, x)).toBe(410);
  });
});
