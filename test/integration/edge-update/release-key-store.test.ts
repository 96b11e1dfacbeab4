/**
 * The device's trusted release keys in a real identity.db: built-in until a rotation is applied; a rotation is
 * verified against the keys trusted at that moment, replays and older documents are refused and change nothing;
 * the stored set survives reopening; and the migration adds the table to a schema-1 database with data in it.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { edgeCore } from '../../../src/edge/migrations/0001-edge-core.js';
import { identityMigrations, legacyEdgeMigrations } from '../../../src/edge/migrations/index.js';
import { ReleaseKeyStore } from '../../../src/edge/update/trust/release-key-store.js';
import { IDENTITY_DB_FILE } from '../../../src/edge/stores/index.js';
import { verifyReleaseManifest } from '../../../src/protocol/release.js';
import { openDatabase, schemaVersion, type Db } from '../../../src/storage/index.js';
import {
  makeReleaseKey,
  runtimeManifest,
  signManifest,
  signRotation,
  type TestReleaseKey,
} from '../../helpers/release.js';
import { tempDir } from '../../helpers/tmp.js';

let dev: TestReleaseKey;
let prod: TestReleaseKey;
let later: TestReleaseKey;
beforeAll(async () => {
  [dev, prod, later] = await Promise.all([makeReleaseKey('dev'), makeReleaseKey('prod'), makeReleaseKey('later')]);
});

async function openIdentity(stateDir: string): Promise<Db> {
  return (await openDatabase({ path: join(stateDir, IDENTITY_DB_FILE), migrations: identityMigrations })).db;
}

const storeOf = (db: Db) => new ReleaseKeyStore(db, { sequence: 0, keys: [dev.trusted] });
const kids = (store: ReleaseKeyStore) => store.trustedKeys().keys.map((k) => k.kid);

describe('ReleaseKeyStore', () => {
  it('trusts the built-in set until a rotation is applied, then the rotation, across reopening', async () => {
    const stateDir = tempDir('cst-trust-');
    let db = await openIdentity(stateDir);
    expect(storeOf(db).trustedKeys()).toMatchObject({ sequence: 0, source: 'built-in' });
    expect(await storeOf(db).applyRotation(await signRotation(dev, 1, [dev.trusted, prod.trusted]))).toEqual({
      applied: true,
      sequence: 1,
    });
    db.close();
    db = await openIdentity(stateDir);
    const store = storeOf(db);
    expect(store.trustedKeys()).toMatchObject({ sequence: 1, source: 'rotation' });
    expect(kids(store)).toEqual(['dev', 'prod']);
    // A manifest signed by the new key now verifies with what the store trusts.
    const jws = await signManifest(prod, runtimeManifest(Buffer.from('x')));
    await expect(verifyReleaseManifest(jws, store.trustedKeys().keys)).resolves.toMatchObject({ kid: 'prod' });
    db.close();
  });

  it('revokes: after a rotation that leaves a key out, the old key can neither sign releases nor rotations', async () => {
    const db = await openIdentity(tempDir('cst-trust-'));
    const store = storeOf(db);
    await store.applyRotation(await signRotation(dev, 1, [dev.trusted, prod.trusted]));
    await store.applyRotation(await signRotation(prod, 2, [prod.trusted]));
    expect(kids(store)).toEqual(['prod']);
    const byDev = await signManifest(dev, runtimeManifest(Buffer.from('x')));
    await expect(verifyReleaseManifest(byDev, store.trustedKeys().keys)).rejects.toMatchObject({
      code: 'BAD_SIGNATURE',
    });
    // The revoked key tries to put itself back with a higher sequence: not signed by a trusted key.
    await expect(store.applyRotation(await signRotation(dev, 9, [dev.trusted]))).rejects.toMatchObject({
      code: 'BAD_SIGNATURE',
    });
    expect(store.trustedKeys().sequence).toBe(2);
    db.close();
  });

  it('accepts the document it holds again unchanged, and refuses an older one (a replay) without a change', async () => {
    const db = await openIdentity(tempDir('cst-trust-'));
    const store = storeOf(db);
    const first = await signRotation(dev, 1, [dev.trusted, prod.trusted]);
    const second = await signRotation(dev, 2, [dev.trusted, later.trusted]);
    await store.applyRotation(first);
    await store.applyRotation(second);
    expect(await store.applyRotation(second)).toEqual({ applied: false, sequence: 2 });
    await expect(store.applyRotation(first)).rejects.toThrow(
      'key-rotation document 1 is not newer than the one held (2)',
    );
    const sameSequence = await signRotation(dev, 2, [dev.trusted, prod.trusted]);
    await expect(store.applyRotation(sameSequence)).rejects.toMatchObject({ code: 'BAD_MANIFEST' });
    expect(kids(store)).toEqual(['dev', 'later']);
    db.close();
  });

  it('a binary whose built-in set is newer than the stored rotation trusts its own set', async () => {
    const db = await openIdentity(tempDir('cst-trust-'));
    await storeOf(db).applyRotation(await signRotation(dev, 1, [dev.trusted, prod.trusted]));
    const reflashed = new ReleaseKeyStore(db, { sequence: 5, keys: [later.trusted] });
    expect(reflashed.trustedKeys()).toMatchObject({ sequence: 5, source: 'built-in' });
    // And a document at or below 5 is a replay for it.
    await expect(reflashed.applyRotation(await signRotation(later, 5, [later.trusted]))).rejects.toMatchObject({
      code: 'BAD_MANIFEST',
    });
    db.close();
  });

  it('migration 2 adds the table to a schema-1 identity.db and keeps its data', async () => {
    const stateDir = tempDir('cst-trust-');
    const path = join(stateDir, IDENTITY_DB_FILE);
    const old = (await openDatabase({ path, migrations: [edgeCore] })).db;
    old.prepare("INSERT INTO kv (key, value) VALUES ('clock.offset', '42')").run();
    old
      .prepare('INSERT INTO identity (id, private_jwk, public_jwk, thumbprint, created_at) VALUES (1, ?, ?, ?, ?)')
      .run('{"d":"x"}', '{"x":"y"}', 'thumb', '2026-01-01T00:00:00Z');
    old.close();
    const db = await openIdentity(stateDir);
    // Version 2 or later: identity.db migration 3 (update jobs) follows.
    expect(schemaVersion(db)).toBeGreaterThanOrEqual(2);
    expect(db.prepare<{ value: string }>("SELECT value FROM kv WHERE key = 'clock.offset'").get()?.value).toBe('42');
    expect(db.prepare<{ thumbprint: string }>('SELECT thumbprint FROM identity').get()?.thumbprint).toBe('thumb');
    expect(storeOf(db).trustedKeys().source).toBe('built-in');
    db.close();
  });

  it('an edge.db from before the split (no release_keys table) reads as the built-in set', async () => {
    const { db } = await openDatabase({
      path: join(tempDir('cst-trust-'), 'edge.db'),
      migrations: legacyEdgeMigrations,
    });
    expect(storeOf(db).trustedKeys()).toMatchObject({ sequence: 0, source: 'built-in' });
    db.close();
  });
});
