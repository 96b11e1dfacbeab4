/**
 * The mock cloud holds the newest key-rotation document across a real restart of its process: started again with
 * an older one (devices would pass it over) it refuses to start and says why; without the flag it keeps the held one.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEntry } from '../../helpers/process.js';
import { tempDir } from '../../helpers/tmp.js';
import { InProcessCloud } from './in-process.js';
import { DEMO_PLATFORM_ADMIN } from '../../../src/mock/cloud/seed.js';
import { releaseKey, runtimeBundle, signManifest, type ReleaseKey } from './release-fixtures.js';
import { upload } from './update-fixtures.js';

const rotation = (signer: ReleaseKey, sequence: number, keys: ReleaseKey[]) =>
  signManifest(
    signer,
    { typ: 'release-keys', sequence, keys: keys.map((k) => k.trusted), issuedAt: '2026-11-26T00:00:00.000Z' },
    'consystence-release-keys+jws',
  );

describe('the key-rotation document across a restart of the mock cloud', () => {
  it('refuses an older document after a newer one, and keeps the newer one without the flag', async () => {
    const dir = tempDir('cst-rotation-');
    const db = join(dir, 'cloud.db');
    const key = await releaseKey('rotation-signer');
    const next = await releaseKey('rotation-next');
    writeFileSync(join(dir, 'keys.json'), JSON.stringify({ sequence: 0, keys: [key.trusted] }));
    writeFileSync(join(dir, 'rotation-2.jws'), await rotation(key, 2, [next]));
    writeFileSync(join(dir, 'rotation-1.jws'), await rotation(key, 1, [key, next]));
    const start = (rotationFile?: string) =>
      startEntry('node', 'src/mock/cloud/main.ts', [
        ...['--port', '0', '--db', db, '--release-keys', join(dir, 'keys.json')],
        ...(rotationFile ? ['--release-rotation', join(dir, rotationFile)] : []),
      ]);

    const first = start('rotation-2.jws');
    try {
      await first.waitForLine((l) => l.event === 'listening', 30_000);
    } finally {
      await first.kill('SIGKILL');
    }

    const older = start('rotation-1.jws');
    try {
      const exit = await Promise.race([
        older.exited,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('still running')), 30_000)),
      ]);
      expect(exit.code).toBe(1);
      expect(older.stderr.join('\n')).toMatch(/sequence 1, but this cloud already handed out sequence 2/);
    } finally {
      await older.kill('SIGKILL');
    }

    const same = start('rotation-2.jws');
    try {
      await same.waitForLine((l) => l.event === 'listening', 30_000);
    } finally {
      await same.kill('SIGKILL');
    }

    // Without the flag the held document (sequence 2: only the next key) is what the cloud trusts.
    const held = await InProcessCloud.start({ dbPath: db, releaseKeys: [key.trusted] });
    try {
      const admin = await held.token(DEMO_PLATFORM_ADMIN);
      const revoked = await upload(held, admin, (await runtimeBundle(key)).bytes);
      expect([revoked.status, revoked.json.error.code]).toEqual([400, 'BAD_SIGNATURE']);
      expect((await upload(held, admin, (await runtimeBundle(next)).bytes)).status).toBe(201);
    } finally {
      held.close();
    }
  });
});
