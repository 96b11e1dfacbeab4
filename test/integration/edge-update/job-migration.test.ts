/**
 * Migration 3 (update jobs) on identity.db from every earlier schema, each with real data in it: the data stays,
 * the job table works, and a job moves only along the state machine, one transaction per step.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { edgeCore } from '../../../src/edge/migrations/0001-edge-core.js';
import { releaseKeys } from '../../../src/edge/migrations/0004-release-keys.js';
import { updateJobs } from '../../../src/edge/migrations/0005-update-jobs.js';
import { identityMigrations } from '../../../src/edge/migrations/index.js';
import { IDENTITY_DB_FILE } from '../../../src/edge/stores/index.js';
import { JobTransitionError, UpdateJobStore } from '../../../src/edge/update/job-store.js';
import { openDatabase, schemaVersion, type Db } from '../../../src/storage/index.js';
import { tempDir } from '../../helpers/tmp.js';

const newJob = {
  campaignId: '00000000-0000-4000-8000-000000000001',
  kind: 'runtime' as const,
  name: 'consystence-edge',
  version: '2.0.0',
  sha256: 'a'.repeat(64),
  manifestJws: 'h.p.s',
  url: 'http://127.0.0.1/x',
  allowDowngrade: false,
  fromVersion: '1.0.0',
  total: 10,
};

function seedSchema1(db: Db) {
  db.prepare("INSERT INTO kv (key, value) VALUES ('outbox_seq_floor', '1234')").run();
  db.prepare('INSERT INTO identity (id, private_jwk, public_jwk, thumbprint, created_at) VALUES (1, ?, ?, ?, ?)').run(
    '{"d":"x"}',
    '{"x":"y"}',
    'thumb',
    '2026-01-01T00:00:00Z',
  );
}

describe('identity.db migration 3: update jobs', () => {
  it.each([
    ['schema 1', [edgeCore]],
    ['schema 2', [edgeCore, releaseKeys]],
    ['schema 3', [edgeCore, releaseKeys, updateJobs]],
  ])('upgrades a %s database with data in it', async (_name, earlier) => {
    const path = join(tempDir('cst-jobs-'), IDENTITY_DB_FILE);
    const old = (await openDatabase({ path, migrations: earlier })).db;
    seedSchema1(old);
    if (earlier.length > 1)
      old
        .prepare('INSERT INTO release_keys (id, sequence, keys, document, applied_at) VALUES (1, 3, ?, ?, ?)')
        .run('[]', 'doc', '2026-01-01T00:00:00Z');
    old.close();
    const db = (await openDatabase({ path, migrations: identityMigrations })).db;
    expect(schemaVersion(db)).toBe(identityMigrations.length);
    expect(db.prepare<{ value: string }>("SELECT value FROM kv WHERE key = 'outbox_seq_floor'").get()?.value).toBe(
      '1234',
    );
    expect(db.prepare<{ thumbprint: string }>('SELECT thumbprint FROM identity').get()?.thumbprint).toBe('thumb');
    if (earlier.length > 1)
      expect(db.prepare<{ sequence: number }>('SELECT sequence FROM release_keys').get()?.sequence).toBe(3);
    const jobs = new UpdateJobStore(db);
    expect(jobs.latest()).toBeUndefined();
    const job = jobs.create(newJob);
    expect(jobs.move(job.id, 'downloading', { offset: 5 })).toMatchObject({ state: 'downloading', offset: 5 });
    db.close();
  });

  it('refuses steps the state machine does not have, and changes nothing', async () => {
    const path = join(tempDir('cst-jobs-'), IDENTITY_DB_FILE);
    const db = (await openDatabase({ path, migrations: identityMigrations })).db;
    const jobs = new UpdateJobStore(db);
    const job = jobs.create(newJob);
    expect(() => jobs.move(job.id, 'installing')).toThrow(JobTransitionError);
    jobs.move(job.id, 'cancelled', { reason: { code: 'CANCELLED', message: 'the campaign was cancelled' } });
    expect(() => jobs.move(job.id, 'downloading')).toThrow(/cannot go from cancelled to downloading/);
    expect(jobs.get(job.id)).toMatchObject({ state: 'cancelled', reason: { code: 'CANCELLED' } });
    expect(jobs.active()).toBeUndefined();
    expect(jobs.lastFinished()?.id).toBe(job.id);
    db.close();
  });
});
