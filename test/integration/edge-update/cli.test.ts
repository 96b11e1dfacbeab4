/**
 * `update install --file` and `update status` as a technician runs them: a real CLI process on a real state dir
 * and a real bundle file. A bundle signed by the development key the build trusts installs (binary in
 * releases/<version>, links swapped, trial record, job `restarting`); one signed by another key is refused with
 * exit 5 and changes nothing; a running service (run lock held) makes it refuse; `status` and `doctor` show it.
 */
import {
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { identityMigrations } from '../../../src/edge/migrations/index.js';
import { IDENTITY_DB_FILE } from '../../../src/edge/stores/index.js';
import { acquireRunLock } from '../../../src/edge/stores/run-lock.js';
import { UpdateJobStore } from '../../../src/edge/update/job-store.js';
import { machineArch } from '../../../src/edge/update/prechecks.js';
import { openDatabase } from '../../../src/storage/index.js';
import { makeReleaseKey, type TestReleaseKey, writeTestBundle } from '../../helpers/release.js';
import { commandFor, ROOT, runToEnd } from '../../helpers/process.js';
import { tempDir, testHardwareId } from '../../helpers/tmp.js';
import { runtimeRelease } from '../../helpers/update-engine.js';
import { LAUNCHER } from '../image/launcher-fixture.js';

let dev: TestReleaseKey;
let stranger: TestReleaseKey;
beforeAll(async () => {
  const jwk = JSON.parse(readFileSync(join(ROOT, 'keys/dev/release-signing.private.jwk'), 'utf8'));
  const { d: _d, ...pub } = jwk;
  dev = { private: jwk, trusted: { kid: jwk.kid, jwk: { kty: pub.kty, crv: pub.crv, x: pub.x, y: pub.y } } };
  stranger = await makeReleaseKey(jwk.kid); // the same kid, another key: the signature must decide
});

const { command, args } = commandFor('node', 'src/edge/main.ts');
const cli = (stateDir: string, ...extra: string[]) =>
  runToEnd(command, [...args, ...extra, '--state-dir', stateDir], {
    env: { CONSYSTENCE_EDGE_HARDWARE_ID: testHardwareId('update-cli') },
  });

async function bundleSignedBy(key: TestReleaseKey, version = '99.0.0') {
  const release = await runtimeRelease(key, { version, arch: machineArch() ?? 'x64' });
  const path = await writeTestBundle(tempDir('cst-usb-'), key, release.artifact, release.manifest);
  return { ...release, path };
}

describe('update install --file', () => {
  it.runIf(process.geteuid?.() === 0)(
    "refuses as root in a folder the service account owns, and changes nothing (root's files would stop the service)",
    async () => {
      const stateDir = tempDir('cst-update-root-');
      chownSync(stateDir, 65534, 65534);
      const bundle = await bundleSignedBy(dev);
      const result = await cli(stateDir, 'update', 'install', '--file', bundle.path, '--yes');
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/run update install as the account that owns .*\(uid 65534\)|nobody/);
      expect(readdirSync(stateDir)).toEqual([]);
    },
  );

  it('installs a bundle signed by a trusted key; update status, status and doctor show it', async () => {
    const stateDir = tempDir('cst-update-cli-');
    const bundle = await bundleSignedBy(dev);
    const result = await cli(stateDir, 'update', 'install', '--file', bundle.path, '--yes');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('installed runtime 99.0.0; start the service');
    expect(readFileSync(join(stateDir, 'releases/99.0.0/consystence-edge')).equals(bundle.binary)).toBe(true);
    expect(readlinkSync(join(stateDir, 'releases/current'))).toBe('99.0.0');
    expect(readFileSync(join(stateDir, 'update/trial'), 'utf8')).toContain('version=99.0.0');

    const status = await cli(stateDir, 'update', 'status', '--json');
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      current: '99.0.0',
      previous: 'factory',
      inProgress: { version: '99.0.0', state: 'restarting', campaignId: null },
      trial: { version: '99.0.0', previous: 'factory' },
    });
    const human = await cli(stateDir, 'status');
    expect(human.stdout).toMatch(/update: +runtime 99\.0\.0: restarting/);
    const doctor = await cli(stateDir, 'doctor', '--json');
    expect(doctor.stdout).toContain('version 99.0.0 is on trial');
  });

  it('refuses a bundle signed by an untrusted key with exit 5 and changes nothing', async () => {
    const stateDir = tempDir('cst-update-cli-');
    const bundle = await bundleSignedBy(stranger);
    const result = await cli(stateDir, 'update', 'install', '--file', bundle.path, '--yes');
    expect(result.code).toBe(5);
    expect(result.stderr).toContain('BAD_SIGNATURE');
    expect(existsSync(join(stateDir, 'releases'))).toBe(false);
    expect(existsSync(join(stateDir, 'update'))).toBe(false);
  });

  it('refuses an older version unless --allow-downgrade', async () => {
    const stateDir = tempDir('cst-update-cli-');
    const bundle = await bundleSignedBy(dev, '0.0.1');
    const refused = await cli(stateDir, 'update', 'install', '--file', bundle.path, '--yes');
    expect(refused.code).toBe(5);
    expect(refused.stderr).toContain('DOWNGRADE');
    const allowed = await cli(stateDir, 'update', 'install', '--file', bundle.path, '--yes', '--allow-downgrade');
    expect(allowed.code).toBe(0);
  });

  it('refuses while the service holds the run lock, and without --yes when nobody can answer', async () => {
    const stateDir = tempDir('cst-update-cli-');
    const bundle = await bundleSignedBy(dev);
    expect((await cli(stateDir, 'update', 'install', '--file', bundle.path)).code).toBe(2);
    const lock = await acquireRunLock(stateDir, 'held by the test');
    try {
      const result = await cli(stateDir, 'update', 'install', '--file', bundle.path, '--yes');
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('the service is running');
    } finally {
      lock.release();
    }
    expect(existsSync(join(stateDir, 'releases'))).toBe(false);
  });
});

/** A model bundle made by the release script itself (`npm run release -- --kind model`), signed by the dev key. */
async function modelBundle(version: string, files: Record<string, string>): Promise<string> {
  const source = tempDir('cst-model-src-');
  for (const [name, content] of Object.entries(files)) writeFileSync(join(source, name), content);
  const out = tempDir('cst-model-out-');
  const release = commandFor('node', 'scripts/release/release.ts');
  const made = await runToEnd(
    release.command,
    [
      ...release.args,
      '--kind',
      'model',
      '--name',
      'detector',
      '--version',
      version,
      '--key',
      join(ROOT, 'keys/dev/release-signing.private.jwk'),
      '--out',
      out,
      source,
    ],
    { timeoutMs: 60_000 },
  );
  expect(made.code, made.stderr).toBe(0);
  const [bundle] = readdirSync(out);
  return join(out, bundle!);
}

describe('update install --file with a model bundle', () => {
  it('installs it as over the air (verified, staged, links swapped, no restart); a damaged one changes nothing', async () => {
    const stateDir = tempDir('cst-update-cli-');
    const models = join(stateDir, 'models/detector');
    const first = await modelBundle('4.0.0', { 'weights.onnx': 'weights v4', 'labels.txt': 'person\ntruck\n' });
    const installed = await cli(stateDir, 'update', 'install', '--file', first, '--yes');
    expect(installed.code, installed.stderr).toBe(0);
    expect(installed.stdout).toContain('installed model 4.0.0');
    expect(readlinkSync(join(models, 'current'))).toBe('4.0.0');
    expect(readFileSync(join(models, 'current/weights.onnx'), 'utf8')).toBe('weights v4');
    expect(readFileSync(join(models, 'current/labels.txt'), 'utf8')).toBe('person\ntruck\n');
    expect(existsSync(join(stateDir, 'releases'))).toBe(false); // no runtime switch, no trial
    const status = JSON.parse((await cli(stateDir, 'update', 'status', '--json')).stdout);
    expect(status).toMatchObject({ inProgress: null, last: { kind: 'model', version: '4.0.0', state: 'succeeded' } });

    const second = await modelBundle('5.0.0', { 'weights.onnx': 'weights v5', 'labels.txt': 'person\n' });
    const damaged = join(tempDir('cst-usb-'), 'damaged.bundle');
    const bytes = readFileSync(second);
    bytes[bytes.length - 10]! ^= 0xff; // inside the artifact, after the signed manifest line
    writeFileSync(damaged, bytes);
    const refused = await cli(stateDir, 'update', 'install', '--file', damaged, '--yes');
    expect(refused.code).toBe(5);
    expect(refused.stderr).toMatch(/HASH_MISMATCH|damaged/);
    expect(readlinkSync(join(models, 'current'))).toBe('4.0.0');
    expect(readdirSync(models).sort()).toEqual(['4.0.0', 'current']);

    const upgraded = await cli(stateDir, 'update', 'install', '--file', second, '--yes');
    expect(upgraded.code, upgraded.stderr).toBe(0);
    expect(readlinkSync(join(models, 'current'))).toBe('5.0.0');
    expect(readlinkSync(join(models, 'previous'))).toBe('4.0.0');
    expect(readFileSync(join(models, 'current/weights.onnx'), 'utf8')).toBe('weights v5');
  });
});

describe('update status and doctor: a damaged update/trial the launcher set aside', () => {
  it('doctor warns with what to do; update status shows the file', async () => {
    const stateDir = tempDir('cst-update-cli-');
    mkdirSync(join(stateDir, 'update'), { mode: 0o700 });
    writeFileSync(join(stateDir, 'update/trial.invalid'), 'garbage', { mode: 0o600 });
    const doctor = await cli(stateDir, 'doctor', '--json');
    const update = (
      JSON.parse(doctor.stdout) as { checks: Array<{ name: string; level: string; detail: string; fix?: string }> }
    ).checks.find((check) => check.name === 'update');
    expect(update).toMatchObject({ level: 'warn' });
    expect(update?.detail).toContain('unreadable update/trial');
    expect(update?.fix).toContain('remove update/trial.invalid');
    const status = await cli(stateDir, 'update', 'status');
    expect(status.stdout).toMatch(/damaged trial: +update\/trial\.invalid/);
  });
});

describe('update status and status after a rollback the running version has not recorded yet', () => {
  it('show the job the rollback record names as rolled back, with its reason, and write nothing', async () => {
    // Installed offline, then 3 failed starts: the real launcher rolls back to the factory binary, restoring the
    // snapshot in which the job is still `installing`; the factory binary here cannot start, so nothing records it.
    const stateDir = tempDir('cst-update-cli-');
    const bundle = await bundleSignedBy(dev);
    expect((await cli(stateDir, 'update', 'install', '--file', bundle.path, '--yes')).code).toBe(0);
    writeFileSync(join(stateDir, 'update/trial-starts'), 'version=99.0.0\nstarts=3\n', { mode: 0o600 });
    const launcher = await runToEnd('sh', [LAUNCHER, 'run'], {
      env: { CONSYSTENCE_EDGE_STATE_DIR: stateDir, CONSYSTENCE_EDGE_FACTORY_BIN: '/bin/false' },
    });
    expect(launcher.stderr).toContain('rolling back from 99.0.0 to factory: START_FAILED');
    const before = readdirSync(join(stateDir, 'update')).sort();

    const status = await cli(stateDir, 'update', 'status', '--json');
    expect(JSON.parse(status.stdout)).toMatchObject({
      inProgress: null,
      last: { version: '99.0.0', state: 'rolled-back', reason: { code: 'START_FAILED' } },
      rollback: { from: '99.0.0', to: 'factory', reason: 'START_FAILED' },
    });
    const human = await cli(stateDir, 'update', 'status');
    expect(human.stdout).toMatch(/update: +none in progress/);
    expect(human.stdout).toMatch(
      /last update: +runtime 99\.0\.0: rolled-back — START_FAILED: version 99\.0\.0 did not start/,
    );
    expect((await cli(stateDir, 'status')).stdout).toMatch(/last update: +runtime 99\.0\.0: rolled-back/);
    expect(readdirSync(join(stateDir, 'update')).sort()).toEqual(before);
    expect(existsSync(join(stateDir, 'update/rollback'))).toBe(true);
  });
});

describe("doctor's update row reads what update status reads", () => {
  const updateRow = async (stateDir: string) =>
    (
      JSON.parse((await cli(stateDir, 'doctor', '--json')).stdout) as {
        checks: Array<{ name: string; level: string; detail: string }>;
      }
    ).checks.find((check) => check.name === 'update');

  it('shows a download in progress with its bytes, not "no update pending"', async () => {
    const stateDir = tempDir('cst-update-cli-');
    const { db } = await openDatabase({ path: join(stateDir, IDENTITY_DB_FILE), migrations: identityMigrations });
    const jobs = new UpdateJobStore(db);
    const job = jobs.create({
      campaignId: '00000000-0000-4000-8000-000000000001',
      kind: 'runtime',
      name: 'consystence-edge',
      version: '0.1.5-two',
      sha256: 'a'.repeat(64),
      manifestJws: 'h.p.s',
      url: 'http://127.0.0.1/x',
      allowDowngrade: false,
      fromVersion: '0.1.0',
      total: 54752622,
    });
    jobs.move(job.id, 'downloading', { offset: 35192832 });
    db.close();
    const row = await updateRow(stateDir);
    expect(row?.detail).toContain('runtime 0.1.5-two: downloading (35192832 of 54752622 bytes)');
    expect(row?.detail).not.toContain('no update pending');
  });

  it('names the release the service runs after a commit, not the version of the binary that prints it', async () => {
    const stateDir = tempDir('cst-update-cli-');
    const bundle = await bundleSignedBy(dev);
    expect((await cli(stateDir, 'update', 'install', '--file', bundle.path, '--yes')).code).toBe(0);
    // What the engine does when 99.0.0 holds its trial: the job succeeds and update/trial goes.
    const { db } = await openDatabase({ path: join(stateDir, IDENTITY_DB_FILE), migrations: identityMigrations });
    const jobs = new UpdateJobStore(db);
    const job = jobs.active()!;
    jobs.move(job.id, 'trial');
    jobs.move(job.id, 'succeeded');
    db.close();
    rmSync(join(stateDir, 'update/trial'));
    const row = await updateRow(stateDir);
    expect(row).toMatchObject({ level: 'ok' });
    expect(row?.detail).toMatch(
      /^the service runs 99\.0\.0 \(releases\/current\); last update runtime 99\.0\.0: succeeded/,
    );
  });
});
