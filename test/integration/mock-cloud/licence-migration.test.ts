/**
 * Migration 4 on a database written before licences had owners: a key bound by an earlier register-edge keeps its
 * binding and takes the organisation, site and edge of the hardware's newest registration.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createCloud } from '../../../src/mock/cloud/cloud.js';
import { cloudMigrations } from '../../../src/mock/cloud/migrations/index.js';
import { DEMO_ORG_ID } from '../../../src/mock/cloud/seed.js';
import { openDatabase } from '../../../src/storage/index.js';
import { tempDir } from '../../helpers/tmp.js';
import { PUBLIC_URL } from './in-process.js';

describe('migration 4 (licences)', () => {
  it("keeps an earlier binding, owned by its edge's organisation", async () => {
    const path = join(tempDir('licence-migration-'), 'cloud.db');
    const { db } = await openDatabase({ path, migrations: cloudMigrations.slice(0, 3), synchronous: 'NORMAL' });
    const at = '2026-01-01T00:00:00.000Z';
    // A database of that time: users seeded (so no seed is applied again), and the demo organisation.
    db.prepare(
      "INSERT INTO users (id, email, password_hash) VALUES ('aaaaaaaa-0000-4000-8000-00000000000f', 'old@demo.test', 'x')",
    ).run();
    db.prepare(
      "INSERT INTO organisations (id, name, slug, timezone, created_at) VALUES (?, 'Demo', 'demo', 'UTC', ?)",
    ).run(DEMO_ORG_ID, at);
    const siteId = '11111111-2222-4333-8444-555555555555';
    db.prepare(
      "INSERT INTO sites (id, org_id, name, slug, timezone, status, created_at) VALUES (?, ?, 'Old', 'old', 'UTC', 'online', ?)",
    ).run(siteId, DEMO_ORG_ID, at);
    const edge = db.prepare(
      "INSERT INTO edges (id, org_id, site_id, edge_id, hardware_id, version, hostname, public_jwk, registered_at) VALUES (?, ?, ?, ?, 'hw-1', '1.0.0', 'h', '{}', ?)",
    );
    edge.run('aaaaaaaa-0000-4000-8000-000000000001', DEMO_ORG_ID, siteId, 'old-01', at);
    edge.run('aaaaaaaa-0000-4000-8000-000000000002', DEMO_ORG_ID, siteId, 'old-02', '2026-02-01T00:00:00.000Z');
    db.prepare(
      "INSERT INTO licences (licence_key, hardware_id, bound_at) VALUES ('CST-EDGE-OLD1-OLD1-OLD1', 'hw-1', ?)",
    ).run(at);
    db.close();

    const cloud = await createCloud({ publicUrl: PUBLIC_URL, dbPath: path });
    try {
      const rows = cloud.db.prepare('SELECT * FROM organisation_licences').all();
      expect(rows).toEqual([
        {
          licence_key: 'CST-EDGE-OLD1-OLD1-OLD1',
          org_id: DEMO_ORG_ID,
          created_at: at,
          hardware_id: 'hw-1',
          edge_id: 'old-02',
          site_id: siteId,
          bound_at: at,
          bound_via: 'cloud',
        },
      ]);
      expect(cloud.db.prepare("SELECT name FROM sqlite_master WHERE name = 'licences'").all()).toEqual([]);
    } finally {
      cloud.close();
    }
  });
});
