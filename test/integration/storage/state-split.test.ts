/**
 * Issue 12.2: identity and outbox in separate databases. An existing device's single edge.db is split in place,
 * and a power cut after any step leaves a state dir that works (read by status as it is, finished by the next
 * `run`): the split is a list of idempotent steps, so "power cut after step k" is exactly "steps 1..k ran, then a
 * fresh boot" — each k is tested, plus a copy interrupted before its rename. A damaged outbox costs the queue, never
 * the identity, and seqs keep rising above every seq the old outbox used. Here (not under edge/) so that
 * `npm run test:bun` runs it on bun:sqlite, the driver the device binary ships with.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureIdentity } from '../../../src/edge/identity/device-key.js';
import { silentLogger } from '../../../src/common/log/log.js';
import { createEdgeRuntime } from '../../../src/edge/runtime.js';
import { SPLIT_STEPS } from '../../../src/edge/stores/layout.js';
import {
  IDENTITY_DB_FILE,
  LEGACY_DB_FILE,
  OUTBOX_DB_FILE,
  openEdgeStores,
  closeEdgeStores,
  storesFor,
} from '../../../src/edge/stores/index.js';
import type { Registration } from '../../../src/edge/stores/registration-store.js';
import { SEQ_RESERVATION_BLOCK } from '../../../src/edge/outbox/index.js';
import { openDatabase } from '../../../src/storage/index.js';
import { legacyEdgeMigrations } from '../../../src/edge/migrations/index.js';
import { tempDir, testHardwareId } from '../../helpers/tmp.js';

const HARDWARE_ID = testHardwareId('split');
const SITE = '9b1d2c3e-4f5a-4b6c-8d7e-0f1a2b3c4d5e';
const QUEUED = 25;
const NEXT_SEQ = 1000;

function registration(): Registration {
  return {
    edgeUuid: '7d1d2c3e-4f5a-4b6c-8d7e-0f1a2b3c4d5e',
    edgeId: 'split-1',
    orgId: '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0c11',
    siteId: SITE,
    cloudUrl: 'https://cloud',
    hardwareId: HARDWARE_ID,
    edgeToken: 'eyJhbGciOiJFUzI1NiJ9.eyJ0IjoxfQ.c2ln',
    tokenIat: 1,
    tokenExp: 4102444800,
    config: {
      siteServer: {
        url: 'https://s:5000',
        mqtt: { url: 'mqtt://s:1883', topicPrefix: `consystence/v1/sites/${SITE}/edges/split-1`, keepaliveSeconds: 30 },
      },
      heartbeatSeconds: 30,
      buffer: { retentionDays: 3650, maxSizeMb: 10 },
    },
    pairedAt: new Date().toISOString(),
    tokenRefreshedAt: null,
    revokedAt: null,
  };
}

/** An edge.db as the previous version left it: paired, a key, and a queue of QUEUED rows below NEXT_SEQ. */
async function legacyStateDir(): Promise<{ dir: string; thumbprint: string }> {
  const dir = tempDir('cst-split-');
  const { db } = await openDatabase({ path: join(dir, LEGACY_DB_FILE), migrations: legacyEdgeMigrations });
  const stores = storesFor(db);
  await ensureIdentity(stores.identity, new Date());
  stores.registration.put(registration());
  const insert = db.prepare(
    'INSERT INTO outbox (seq, channel, enqueued_at, ts, bytes, payload) VALUES (?, ?, ?, ?, ?, ?)',
  );
  db.transaction(() => {
    for (let i = 0; i < QUEUED; i++) {
      const payload = JSON.stringify([{ tag: 't', ts: new Date().toISOString(), value: i }]);
      insert.run(NEXT_SEQ - QUEUED + i, 'telemetry', Date.now(), new Date().toISOString(), payload.length, payload);
    }
    db.prepare('UPDATE outbox_state SET next_seq = ? WHERE id = 1').run(NEXT_SEQ);
  });
  const thumbprint = stores.identity.get()!.thumbprint;
  db.close();
  return { dir, thumbprint };
}

async function expectReadable(dir: string, thumbprint: string): Promise<void> {
  // What `status` does in any intermediate state: read, never split.
  const state = await openEdgeStores(dir, silentLogger);
  try {
    expect(state.registration.get()?.edgeId).toBe('split-1');
    expect(state.identity.get()?.thumbprint).toBe(thumbprint);
  } finally {
    closeEdgeStores(state);
  }
}

async function bootAndCheck(dir: string, thumbprint: string): Promise<void> {
  const runtime = await createEdgeRuntime({
    stateDir: dir,
    hardwareId: HARDWARE_ID,
    logger: silentLogger,
    upgradeLayout: true,
  });
  try {
    expect(runtime.state.registration.get()?.edgeId).toBe('split-1');
    expect(runtime.state.identity.get()?.thumbprint).toBe(thumbprint);
    const outbox = runtime.outbox();
    expect(outbox.stats().depth).toBe(QUEUED);
    expect(outbox.peekAfter(0, 1)[0]?.seq).toBe(NEXT_SEQ - QUEUED);
    const { seq } = await outbox.enqueue('telemetry', [{ tag: 't', ts: new Date().toISOString(), value: 1 }], {
      durable: 'now',
    });
    expect(seq).toBe(NEXT_SEQ);
    // The outbox file no longer carries the device key or the token.
    const tables = runtime.state.outboxDb
      .prepare<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
      .all()
      .map((t) => t.name);
    expect(tables).not.toContain('identity');
    expect(tables).not.toContain('registration');
  } finally {
    runtime.close();
  }
  expect(
    readdirSync(dir)
      .filter((f) => f.endsWith('.db'))
      .sort(),
  ).toEqual([IDENTITY_DB_FILE, OUTBOX_DB_FILE]);
}

describe("splitting an earlier version's edge.db", () => {
  it.each(SPLIT_STEPS.map((_, k) => k).concat(SPLIT_STEPS.length))(
    'a power cut after %i of the split steps leaves a working state; the next run finishes it',
    async (done) => {
      const { dir, thumbprint } = await legacyStateDir();
      for (const step of SPLIT_STEPS.slice(0, done)) await step(dir);
      await expectReadable(dir, thumbprint);
      await bootAndCheck(dir, thumbprint);
    },
  );

  it('a copy interrupted before its rename is thrown away and made again', async () => {
    const { dir, thumbprint } = await legacyStateDir();
    writeFileSync(join(dir, `${IDENTITY_DB_FILE}.split`), 'half a database');
    await expectReadable(dir, thumbprint);
    await bootAndCheck(dir, thumbprint);
    expect(existsSync(join(dir, `${IDENTITY_DB_FILE}.split`))).toBe(false);
  });

  it('a damaged outbox is moved aside alone: the device stays paired and seqs keep rising', async () => {
    const { dir, thumbprint } = await legacyStateDir();
    await bootAndCheck(dir, thumbprint);
    // A restart with an intact outbox continues its own counter: the reservation never skips seqs by itself.
    const restarted = await createEdgeRuntime({ stateDir: dir, hardwareId: HARDWARE_ID, logger: silentLogger });
    try {
      const next = await restarted
        .outbox()
        .enqueue('telemetry', [{ tag: 't', ts: new Date().toISOString(), value: 3 }], {
          durable: 'now',
        });
      expect(next.seq).toBe(NEXT_SEQ + 1);
    } finally {
      restarted.close();
    }
    writeFileSync(join(dir, OUTBOX_DB_FILE), Buffer.alloc(8192, 0x5a));
    const runtime = await createEdgeRuntime({ stateDir: dir, hardwareId: HARDWARE_ID, logger: silentLogger });
    try {
      expect(runtime.state.outboxRecovered?.movedTo).toContain(`${OUTBOX_DB_FILE}.corrupt-`);
      expect(runtime.state.recovered).toBeUndefined();
      expect(runtime.state.registration.get()?.edgeId).toBe('split-1');
      expect(runtime.state.identity.get()?.thumbprint).toBe(thumbprint);
      const outbox = runtime.outbox();
      expect(outbox.stats().depth).toBe(0);
      const { seq } = await outbox.enqueue('telemetry', [{ tag: 't', ts: new Date().toISOString(), value: 2 }], {
        durable: 'now',
      });
      // Above every seq the lost outbox used (NEXT_SEQ + 1 was the last one), within one reservation block.
      expect(seq).toBeGreaterThan(NEXT_SEQ + 1);
      expect(seq).toBeLessThanOrEqual(NEXT_SEQ + 1 + SEQ_RESERVATION_BLOCK);
    } finally {
      runtime.close();
    }
  });
});
