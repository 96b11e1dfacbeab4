/**
 * `reset`: destructive, so it refuses without --yes when nobody can answer; with --yes it forgets the
 * registration and keeps the device key (identity never changes, keys do only on `--keys`); the device then pairs
 * again with a new code, and the cloud replaces the old registration of the same hardware.
 */
import { PAIRING_URI_ENV } from '../../../src/edge/cli/secret-input.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDENTITY_DB_FILE } from '../../../src/edge/stores/index.js';
import { openDatabase } from '../../../src/storage/index.js';
import { identityMigrations } from '../../../src/edge/migrations/index.js';
import { commandFor, runToEnd } from '../../helpers/process.js';
import { tempDir, testHardwareId } from '../../helpers/tmp.js';
import { createSite, DEMO_ORG_ID, startCloudProcess, type CloudProcess } from '../../e2e/support/cloud.js';

let cloud: CloudProcess;
let siteId: string;
beforeAll(async () => {
  cloud = await startCloudProcess();
  siteId = await createSite(cloud.admin, 'reset');
});
afterAll(async () => {
  await cloud?.child.kill('SIGKILL');
});

const { command, args } = commandFor('node', 'src/edge/main.ts');

async function deviceKeyThumbprint(stateDir: string): Promise<string | undefined> {
  const { db } = await openDatabase({ path: join(stateDir, IDENTITY_DB_FILE), migrations: identityMigrations });
  try {
    return db.prepare<{ thumbprint: string }>('SELECT thumbprint FROM identity WHERE id = 1').get()?.thumbprint;
  } finally {
    db.close();
  }
}

/** Every byte of the database and its side files, as an attacker with a copy of the disk would read them. */
function rawState(stateDir: string): Buffer {
  const path = join(stateDir, IDENTITY_DB_FILE);
  return Buffer.concat(['', '-wal', '-shm'].filter((s) => existsSync(path + s)).map((s) => readFileSync(path + s)));
}

async function secrets(stateDir: string): Promise<{ token: string; keyD: string }> {
  const { db } = await openDatabase({ path: join(stateDir, IDENTITY_DB_FILE), migrations: identityMigrations });
  try {
    const token = db.prepare<{ edge_token: string }>('SELECT edge_token FROM registration').get()?.edge_token ?? '';
    const key = db.prepare<{ private_jwk: string }>('SELECT private_jwk FROM identity WHERE id = 1').get();
    return { token, keyD: key ? (JSON.parse(key.private_jwk) as { d: string }).d : '' };
  } finally {
    db.close();
  }
}

describe('reset', () => {
  it('scrubs the token and the replaced key from the file and its WAL, on reset and on re-pair', async () => {
    const stateDir = tempDir();
    const base = ['--state-dir', stateDir, '--hardware-id', testHardwareId('scrub')];
    const cli = (...extra: string[]) => runToEnd(command, [...args, ...extra, ...base]);
    const pair = async (...extra: string[]) =>
      runToEnd(command, [...args, 'pair', '--edge-id', 'scrub-1', '--no-connect', '--json', ...extra, ...base], {
        env: { [PAIRING_URI_ENV]: (await cloud.admin.createPairingCode(DEMO_ORG_ID, siteId)).pairingUri },
      });
    expect((await pair()).code).toBe(0);
    const first = await secrets(stateDir);
    expect(first.token.length).toBeGreaterThan(100);
    expect(rawState(stateDir).includes(first.token)).toBe(true); // the carve can find it while it is live

    expect((await pair('--force')).code, 're-pair').toBe(0);
    expect(rawState(stateDir).includes(first.token)).toBe(false);

    const second = await secrets(stateDir);
    expect((await cli('reset', '--yes')).code).toBe(0);
    expect(rawState(stateDir).includes(second.token)).toBe(false);

    expect((await cli('reset', '--keys', '--yes')).code).toBe(0);
    expect(rawState(stateDir).includes(second.keyD)).toBe(false);
    expect(rawState(stateDir).includes(first.keyD)).toBe(false);
  });

  it('refuses without --yes off a terminal, forgets the registration with it, and keeps the key unless --keys', async () => {
    const stateDir = tempDir();
    const base = ['--state-dir', stateDir, '--hardware-id', testHardwareId('reset')];
    const cli = (...extra: string[]) => runToEnd(command, [...args, ...extra, ...base]);
    const pair = async () =>
      runToEnd(command, [...args, 'pair', '--edge-id', 'reset-1', '--no-connect', '--json', ...base], {
        env: { [PAIRING_URI_ENV]: (await cloud.admin.createPairingCode(DEMO_ORG_ID, siteId)).pairingUri },
      });
    const state = async () => JSON.parse((await cli('status', '--json')).stdout).state as string;

    expect((await pair()).code).toBe(0);
    const key = await deviceKeyThumbprint(stateDir);
    expect(key).toBeTruthy();

    const refused = await cli('reset');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--yes/);
    expect(await state()).not.toBe('unpaired');

    expect((await cli('reset', '--yes')).code).toBe(0);
    expect(await state()).toBe('unpaired');
    expect(await deviceKeyThumbprint(stateDir)).toBe(key);

    // Paired again with a new code: the cloud holds one active registration for this hardware.
    expect((await pair()).code).toBe(0);
    const edges = (await cloud.admin.listEdges(DEMO_ORG_ID, siteId)).filter((e) => e.edgeId === 'reset-1');
    expect(edges.filter((e) => e.status === 'active')).toHaveLength(1);

    expect((await cli('reset', '--keys', '--yes', '--json')).code).toBe(0);
    const rotated = await deviceKeyThumbprint(stateDir);
    expect(rotated).toBeTruthy();
    expect(rotated).not.toBe(key);
  });
});
