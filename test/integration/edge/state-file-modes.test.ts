/**
 * What the service user (or a restore under umask 022) leaves in the state folder, against a root `run` and `doctor`
 * (issue 18, the outside tester's file findings): a named pipe as edge.log, databases and SQLite side files readable
 * by every local user, and files a root run used to leave root's. Real CLI child processes as root, real files, a
 * real FIFO; the service is ended with SIGINT as systemd would, SIGKILL only as a bounded fallback.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isRoot } from '../../helpers/files.js';
import { type Child, commandFor, runToEnd, startProcess } from '../../helpers/process.js';
import { tempDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

const NOBODY = 65534;
const SERVICE_ENV = { CONSYSTENCE_EDGE_SERVICE_USER: 'nobody' };
const { command, args: base } = commandFor('node', 'src/edge/main.ts');
const hardware = ['--hardware-id', 'rig-state-files'];
const cli = (args: string[]) =>
  runToEnd(command, [...base, ...args, ...hardware], { timeoutMs: 60_000, env: SERVICE_ENV });

/** A pairing URI whose cloud never answers: `run` keeps retrying the pairing, logging each step, until stopped. */
function unreachableUri(): string {
  const file = join(tempDir(), 'pairing-uri');
  const cloud = encodeURIComponent('http://127.0.0.1:1');
  const org = '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0c11';
  const site = '9b1d2c3e-4f5a-4b6c-8d7e-0f1a2b3c4d5e';
  writeFileSync(file, `consystence-edge://pair?cloud=${cloud}&org=${org}&site=${site}&code=7kq4-mx29\n`);
  return file;
}

function startRun(dir: string): Child {
  const args = ['run', '--state-dir', dir, '--producer-port', 'off', '--pairing-uri-file', unreachableUri()];
  return startProcess(command, [...base, ...args, ...hardware], { env: SERVICE_ENV });
}

const logged = (child: Child, event: string) => child.stderr.some((line) => line.includes(`"event":"${event}"`));

/** SIGINT, as a technician's Ctrl-C; the exit is waited for within a bound, then SIGKILL so nothing lingers. */
async function interrupt(child: Child): Promise<{ code: number | null; signal: NodeJS.Signals | null } | 'hung'> {
  child.proc.kill('SIGINT');
  const bound = new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 20_000));
  const result = await Promise.race([child.exited, bound]);
  if (result === 'hung') await child.kill('SIGKILL');
  return result;
}

describe.skipIf(!isRoot)('the root service against the state folder’s own files (skipped: needs root)', () => {
  it('a named pipe planted as edge.log: run goes on without its file, stops on SIGINT, and reset works after', async () => {
    const dir = tempDir();
    chownSync(dir, NOBODY, NOBODY);
    const fifo = join(dir, 'edge.log');
    execFileSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'mkfifo', fifo]);
    const service = startRun(dir);
    await waitFor(() => logged(service, 'log_file_disabled') && logged(service, 'pairing_step'), {
      timeoutMs: 30_000,
      what: 'the log_file_disabled warning and a pairing step',
    });
    expect(service.stderr.find((line) => line.includes('log_file_disabled'))).toMatch(/edge\.log|ENXIO/);
    expect(await interrupt(service)).not.toBe('hung');
    const reset = await cli(['reset', '--yes', '--state-dir', dir]);
    expect(reset.code, reset.stderr).toBe(0);
    expect(statSync(fifo).isFIFO()).toBe(true);
  });

  it('a world-readable folder and databases: doctor warns, run makes every database and side file 0600', async () => {
    const dir = tempDir();
    expect((await cli(['reset', '--yes', '--state-dir', dir])).code).toBe(0);
    // A restore under umask 022, then a root doctor, which lets SQLite add -wal/-shm with the database's mode.
    chmodSync(dir, 0o755);
    for (const name of ['identity.db', 'outbox.db']) chmodSync(join(dir, name), 0o644);
    const doctor = await cli(['doctor', '--state-dir', dir]);
    expect(doctor.stdout).toMatch(/WARN\s+state-privacy\s+other users may read the device's state: .*\(mode 0755\)/);
    expect(doctor.stdout).toMatch(/outbox\.db \(mode 0644\)/);

    const service = startRun(dir);
    await waitFor(() => logged(service, 'pairing_step'), { timeoutMs: 30_000, what: 'a pairing step' });
    const modes = Object.fromEntries(
      readdirSync(dir)
        .filter((name) => name.includes('.db'))
        .map((name) => [name, (statSync(join(dir, name)).mode & 0o777).toString(8)]),
    );
    expect(await interrupt(service)).not.toBe('hung');
    expect(Object.keys(modes)).toEqual(expect.arrayContaining(['identity.db', 'outbox.db']));
    for (const [name, mode] of Object.entries(modes)) expect(mode, name).toBe('600');
  });

  it('a root run in the service user’s folder leaves edge.log (even one an older root run made) to that user', async () => {
    const dir = tempDir();
    chownSync(dir, NOBODY, NOBODY);
    writeFileSync(join(dir, 'edge.log'), '', { mode: 0o600 }); // root's, as an earlier version left it
    const service = startRun(dir);
    const log = join(dir, 'edge.log');
    // The run's own lines in the file prove it opened it (a CI run once saw root's file untouched: the child's
    // stderr and the folder's listing go into every message below so such a run says why).
    const why = () => `${service.stderr.join('')}\n${execFileSync('ls', ['-lan', dir], { encoding: 'utf8' })}`;
    await waitFor(() => logged(service, 'pairing_step') && statSync(log).size > 0, {
      timeoutMs: 30_000,
      what: 'a pairing step, in edge.log too',
    }).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\n${why()}`);
    });
    expect(await interrupt(service)).not.toBe('hung');
    expect(statSync(log).uid, why()).toBe(NOBODY);
    expect(statSync(log).size, why()).toBeGreaterThan(0);
  });
});
