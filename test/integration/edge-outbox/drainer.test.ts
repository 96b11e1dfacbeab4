/**
 * The drainer against a real SQLite file with a scripted transport: each publish is held until the test
 * releases (PUBACK) or fails it, so window, ordering, delete-after-ack, historical and pacing are observable.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Drainer, Outbox, type OutboundMessage } from '../../../src/edge/outbox/index.js';
import { openDatabase, type Db } from '../../../src/storage/index.js';
import { tempDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { fixtureMigrations } from './fixtures/open-outbox.js';

interface Held extends OutboundMessage {
  ack: () => void;
  fail: (error: Error) => void;
}

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const fn of cleanup.splice(0).reverse()) fn();
});

async function setup(drainerOptions: Partial<ConstructorParameters<typeof Drainer>[1]> = {}) {
  const { db } = await openDatabase({ path: join(tempDir(), 'edge.db'), migrations: fixtureMigrations });
  const outbox = new Outbox(db, { limits: { maxSizeMb: 64, retentionDays: 30 }, sweepIntervalMs: 0 });
  const held: Held[] = [];
  const drainer = new Drainer(outbox, {
    publish: (message) => new Promise<void>((resolve, reject) => held.push({ ...message, ack: resolve, fail: reject })),
    maxInFlight: 4,
    ackBatch: 2,
    ackDelayMs: 5,
    replayRate: null,
    retryDelayMs: 10,
    ...drainerOptions,
  });
  cleanup.push(() => {
    drainer.stop();
    outbox.close();
    db.close();
  });
  return { db, outbox, drainer, held };
}
const enqueueMany = (outbox: Outbox, n: number) =>
  Promise.all(
    Array.from({ length: n }, (_, i) =>
      outbox.enqueue('telemetry', [{ tag: 'x', ts: '2026-01-01T00:00:00Z', value: i }]),
    ),
  );
const rows = (db: Db) =>
  db
    .prepare<{ seq: number }>('SELECT seq FROM outbox ORDER BY seq')
    .all()
    .map((r) => Number(r.seq));

describe('drainer', () => {
  it('publishes oldest first within the in-flight window and deletes only after PUBACK', async () => {
    const { db, outbox, drainer, held } = await setup();
    await enqueueMany(outbox, 10);
    drainer.start();
    await waitFor(() => held.length === 4, { what: 'a full window' });
    await new Promise((r) => setTimeout(r, 30));
    expect(held.map((m) => m.seq)).toEqual([1, 2, 3, 4]); // the window holds: no fifth publish without a PUBACK
    expect(rows(db)).toHaveLength(10); // nothing deleted before PUBACK
    held[0]!.ack();
    held[1]!.ack();
    await waitFor(() => rows(db).length === 8, { what: 'acked rows deleted' });
    expect(rows(db)[0]).toBe(3);
    await waitFor(() => held.length === 6, { what: 'window refilled' });
    expect(held.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    const envelope = JSON.parse(held[0]!.payload) as { seq: number; historical: boolean; records: unknown[] };
    expect(envelope).toMatchObject({ seq: 1, historical: true, records: [{ tag: 'x', value: 0 }] });
  });

  it('marks rows committed before start() historical and later ones live', async () => {
    const { outbox, drainer, held } = await setup();
    await enqueueMany(outbox, 2);
    const pendingBeforeStart = outbox.enqueue('events', [{ tag: 'y', ts: '2026-01-01T00:00:00Z', value: 1 }]); // not yet committed
    drainer.start();
    await pendingBeforeStart;
    await outbox.enqueue('events', [{ tag: 'z', ts: '2026-01-01T00:00:00Z', value: 2 }]);
    await waitFor(() => held.length === 4);
    expect(held.map((m) => [m.seq, m.historical, m.channel])).toEqual([
      [1, true, 'telemetry'],
      [2, true, 'telemetry'],
      [3, true, 'events'],
      [4, false, 'events'],
    ]);
  });

  it('takes the live boundary at CONNACK (markConnected), not when the drain starts after the birth message', async () => {
    const { outbox, drainer, held } = await setup();
    await enqueueMany(outbox, 1); // from before this connection
    drainer.markConnected(); // CONNACK
    await outbox.enqueue('telemetry', [{ tag: 'between', ts: '2026-01-01T00:00:00Z', value: 1 }]); // while the birth message waits for its PUBACK
    drainer.start(); // the birth message was acknowledged
    await waitFor(() => held.length === 2);
    expect(held.map((m) => [m.seq, m.historical])).toEqual([
      [1, true],
      [2, false],
    ]);
    // A new connection moves the boundary: what the last one left unsent is now historical.
    drainer.stop();
    drainer.markConnected();
    drainer.start();
    await waitFor(() => held.length === 4);
    expect(held.slice(2).map((m) => [m.seq, m.historical])).toEqual([
      [1, true],
      [2, true],
    ]);
  });

  it('stops on disconnect, honours late PUBACKs, and resends the rest from the oldest on reconnect', async () => {
    const { db, outbox, drainer, held } = await setup();
    await enqueueMany(outbox, 6);
    drainer.start();
    await waitFor(() => held.length === 4);
    drainer.stop();
    held[1]!.ack(); // a PUBACK that arrives after the connection was declared lost still counts
    await waitFor(() => !rows(db).includes(2), { what: 'late ack applied' });
    await new Promise((r) => setTimeout(r, 30));
    expect(held).toHaveLength(4); // nothing new sent while stopped
    drainer.start();
    await waitFor(() => held.length === 8);
    expect(held.slice(4).map((m) => m.seq)).toEqual([1, 3, 4, 5]); // duplicates of 1,3,4 are expected; no gap
    expect(held.slice(4).every((m) => m.historical)).toBe(true);
  });

  it('after a failed publish, starts a new pass from the oldest unacknowledged row', async () => {
    const { outbox, drainer, held } = await setup();
    await enqueueMany(outbox, 3);
    drainer.start();
    await waitFor(() => held.length === 3);
    held[0]!.ack();
    held[1]!.fail(new Error('connection reset'));
    await waitFor(() => held.length === 5, { what: 'the retry pass' });
    expect(held.slice(3).map((m) => m.seq)).toEqual([2, 3]);
  });

  it('survives a publish function that throws synchronously', async () => {
    const { outbox, drainer } = await setup({
      publish: () => {
        throw new Error('not connected');
      },
    });
    await enqueueMany(outbox, 2);
    drainer.start();
    await new Promise((r) => setTimeout(r, 50));
    expect(outbox.stats().depth).toBe(2);
  });

  it('paces the historical backlog with the token bucket, but not live rows', async () => {
    const sent: number[] = [];
    const { outbox, drainer } = await setup({
      publish: async (m) => void sent.push(m.seq),
      replayRate: { perSecond: 2, burst: 2 },
      maxInFlight: 64,
    });
    await enqueueMany(outbox, 3);
    drainer.start();
    await waitFor(() => sent.length === 2);
    await new Promise((r) => setTimeout(r, 100));
    expect(sent).toEqual([1, 2]); // the burst is spent; the third waits for a token (500 ms at 2/s)
    await waitFor(() => sent.length === 3, { timeoutMs: 5_000 });
    // The bucket is now empty: 40 live rows paced at 2/s would take 20 s, far beyond this 5 s wait.
    await enqueueMany(outbox, 40);
    await waitFor(() => sent.length === 43, { timeoutMs: 5_000, what: 'live rows sent unpaced' });
    expect(sent).toEqual(Array.from({ length: 43 }, (_, i) => i + 1));
  });
});
