/**
 * The outbox on a real SQLite file, through `openDatabase`, so the same cases run on better-sqlite3 (Node) and
 * bun:sqlite (`npm run test:bun`). The migration list is local: these cases do not depend on the runtime's tables.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { envelopeJson, Outbox, OutboxError, outboxMigrations } from '../../../src/edge/outbox/index.js';
import type { Db, Migration } from '../../../src/storage/index.js';
import { checkIntegrity, openDatabase } from '../../../src/storage/index.js';
import { MAX_PAYLOAD_BYTES, type TelemetryRecord } from '../../../src/protocol/messages.js';
import { tempDir } from '../../helpers/tmp.js';

const migrations: readonly Migration[] = outboxMigrations;
const BIG = { maxSizeMb: 1024, retentionDays: 365 };
const DAY = 86_400_000;

const record = (i: number, value: TelemetryRecord['value'] = i): TelemetryRecord => ({
  tag: `t.${i}`,
  ts: '2026-01-01T00:00:00.000Z',
  value,
});

const open: Db[] = [];
const outboxes: Outbox[] = [];
afterEach(() => {
  for (const o of outboxes.splice(0)) o.close();
  for (const db of open.splice(0)) db.close();
});

async function openAt(path: string): Promise<Db> {
  const { db } = await openDatabase({ path, migrations });
  open.push(db);
  return db;
}
function make(db: Db, options: Partial<ConstructorParameters<typeof Outbox>[1]> = {}): Outbox {
  const outbox = new Outbox(db, { limits: BIG, sweepIntervalMs: 0, ...options });
  outboxes.push(outbox);
  return outbox;
}
const rowCount = (db: Db) => Number(db.prepare<{ n: number }>('SELECT COUNT(*) AS n FROM outbox').get()!.n);

describe('outbox storage', () => {
  it('resolves enqueue only once the row is committed, with one seq counter across channels', async () => {
    const db = await openAt(join(tempDir(), 'edge.db'));
    const outbox = make(db);
    const a = outbox.enqueue('telemetry', [record(1)]);
    expect(rowCount(db)).toBe(0); // still inside the group-commit window
    const b = outbox.enqueue('events', [record(2)]);
    expect(await a).toEqual({ seq: 1, lastSeq: 1 });
    expect(await b).toEqual({ seq: 2, lastSeq: 2 });
    expect(rowCount(db)).toBe(2);
    expect(outbox.stats()).toMatchObject({ depth: 2, dropped: 0 });
  });

  it("durable: 'now' commits immediately, together with everything already pending", async () => {
    const db = await openAt(join(tempDir(), 'edge.db'));
    const outbox = make(db, { groupCommit: { maxDelayMs: 1000, maxBatch: 500 } });
    const first = outbox.enqueue('telemetry', [record(1)]);
    const second = outbox.enqueue('telemetry', [record(2)], { durable: 'now' });
    expect(rowCount(db)).toBe(2); // committed synchronously, before any timer could fire
    expect((await first).seq).toBe(1);
    expect((await second).seq).toBe(2);
  });

  it('commits a batch as soon as maxBatch envelopes are waiting', async () => {
    const db = await openAt(join(tempDir(), 'edge.db'));
    const outbox = make(db, { groupCommit: { maxDelayMs: 1000, maxBatch: 3 } });
    const results = [1, 2, 3].map((i) => outbox.enqueue('telemetry', [record(i)]));
    expect(rowCount(db)).toBe(3);
    expect((await Promise.all(results)).map((r) => r.seq)).toEqual([1, 2, 3]);
  });

  it('never reuses a seq across reopen, even after every row was acknowledged', async () => {
    const path = join(tempDir(), 'edge.db');
    let db = await openAt(path);
    let outbox = make(db);
    await Promise.all([1, 2, 3].map((i) => outbox.enqueue('telemetry', [record(i)])));
    outbox.ack([1, 2, 3]);
    expect(outbox.stats()).toEqual({ depth: 0, bytes: 0, oldestTs: null, dropped: 0 });
    outbox.close();
    db.close();
    open.length = 0;
    outboxes.length = 0;

    db = await openAt(path);
    outbox = make(db);
    expect((await outbox.enqueue('events', [record(4)])).seq).toBe(4);
    expect(checkIntegrity(db, 'full')).toBeNull();
  });

  it('splits records that exceed one envelope into consecutive seqs', async () => {
    const db = await openAt(join(tempDir(), 'edge.db'));
    const outbox = make(db);
    const records = Array.from({ length: 25_000 }, (_, i) => record(i));
    const result = await outbox.enqueue('telemetry', records, { durable: 'now' });
    const stored = outbox.peekAfter(0, 100);
    expect(stored.map((e) => e.seq)).toEqual(
      Array.from({ length: result.lastSeq - result.seq + 1 }, (_, i) => result.seq + i),
    );
    expect(stored.length).toBeGreaterThan(1);
    // Every envelope fits the broker's payload cap, and nothing was lost or reordered by the split.
    for (const entry of stored)
      expect(Buffer.byteLength(envelopeJson(entry.seq, entry.ts, true, entry.records))).toBeLessThanOrEqual(
        MAX_PAYLOAD_BYTES,
      );
    const tags = stored.flatMap((e) => (JSON.parse(e.records) as TelemetryRecord[]).map((r) => r.tag));
    expect(tags).toEqual(records.map((r) => r.tag));
  });

  it('drops the oldest rows in the inserting transaction when over maxSizeMb, and counts them persistently', async () => {
    const path = join(tempDir(), 'edge.db');
    const db = await openAt(path);
    // Each envelope holds one 4000-character value, a little over 4 KB; 0.05 MB holds about 12 of them.
    const outbox = make(db, { limits: { maxSizeMb: 0.05, retentionDays: 365 } });
    const big = 'x'.repeat(4000);
    for (let i = 1; i <= 40; i++) await outbox.enqueue('telemetry', [record(i, big)], { durable: 'now' });
    const stats = outbox.stats();
    expect(stats.bytes).toBeLessThanOrEqual(0.05 * 1024 * 1024);
    expect(stats.depth + stats.dropped).toBe(40);
    expect(stats.dropped).toBeGreaterThan(20);
    const seqs = outbox.peekAfter(0, 100).map((e) => e.seq);
    expect(seqs[seqs.length - 1]).toBe(40); // the newest survive
    expect(seqs[0]).toBe(stats.dropped + 1); // exactly the oldest went
    const persisted = db.prepare<{ dropped: number }>('SELECT dropped FROM outbox_state').get()!;
    expect(Number(persisted.dropped)).toBe(stats.dropped);
  });

  it('applies retention by enqueue time, hot-reloaded with setLimits, and spares rows stamped by a 1970 clock', async () => {
    const db = await openAt(join(tempDir(), 'edge.db'));
    let now = Date.parse('1970-01-02T00:00:00Z');
    const outbox = make(db, { clock: { now: () => now } });
    await outbox.enqueue('telemetry', [record(1)], { durable: 'now' }); // no RTC yet
    now = Date.parse('2026-03-01T00:00:00Z');
    await outbox.enqueue('telemetry', [record(2)], { durable: 'now' });
    now += 3 * DAY;
    await outbox.enqueue('telemetry', [record(3)], { durable: 'now' });
    expect(outbox.stats().depth).toBe(3);
    outbox.setLimits({ maxSizeMb: 1024, retentionDays: 2 });
    expect(outbox.peekAfter(0, 10).map((e) => e.seq)).toEqual([1, 3]);
    expect(outbox.stats()).toMatchObject({ depth: 2, dropped: 1, oldestTs: '1970-01-02T00:00:00.000Z' });
    expect(() => outbox.setLimits({ maxSizeMb: -1, retentionDays: 2 })).toThrow();
    expect(outbox.getLimits().retentionDays).toBe(2);
  });

  it('refuses invalid records with details and without touching the queue', async () => {
    const db = await openAt(join(tempDir(), 'edge.db'));
    const outbox = make(db);
    const bad = [{ tag: '', ts: 'yesterday', value: { nested: true } }] as unknown as TelemetryRecord[];
    const error = await outbox.enqueue('telemetry', bad).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutboxError);
    expect((error as OutboxError).code).toBe('INVALID_INPUT');
    expect((error as OutboxError).details?.length).toBeGreaterThan(0);
    await expect(outbox.enqueue('nope' as 'events', [record(1)])).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(outbox.enqueue('telemetry', [])).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect((await outbox.enqueue('telemetry', [record(1)])).seq).toBe(1); // no seq was consumed by the failures
  });

  it('close() commits pending enqueues and then refuses new ones', async () => {
    const db = await openAt(join(tempDir(), 'edge.db'));
    const outbox = make(db, { groupCommit: { maxDelayMs: 1000, maxBatch: 500 } });
    const pending = outbox.enqueue('telemetry', [record(1)]);
    outbox.close();
    expect(rowCount(db)).toBe(1);
    expect((await pending).seq).toBe(1);
    await expect(outbox.enqueue('telemetry', [record(2)])).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('rejects the whole batch when the write fails, and keeps working after', async () => {
    const db = await openAt(join(tempDir(), 'edge.db'));
    const outbox = make(db);
    // A trigger that refuses inserts stands in for a full disk: the failure must surface, never hang.
    db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END`);
    const results = await Promise.allSettled([
      outbox.enqueue('telemetry', [record(1)]),
      outbox.enqueue('events', [record(2)]),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'WRITE_FAILED' });
    db.exec('DROP TRIGGER refuse');
    expect((await outbox.enqueue('telemetry', [record(3)])).seq).toBe(1); // the failed transaction took no seq
    expect(outbox.stats().depth).toBe(1);
  });
});
