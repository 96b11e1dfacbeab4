/** The local producer API over real loopback TCP and a real Unix socket, backed by a real SQLite outbox. */
import { request } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Outbox } from '../../../src/edge/outbox/index.js';
import {
  ProducerClient,
  ProducerError,
  startProducerServer,
  type ProducerServer,
} from '../../../src/edge/producer/index.js';
import { openDatabase } from '../../../src/storage/index.js';
import { tempDir } from '../../helpers/tmp.js';
import { fixtureMigrations } from './fixtures/open-outbox.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setup(listen: { socketPath?: string } = {}) {
  const { db } = await openDatabase({ path: join(tempDir(), 'edge.db'), migrations: fixtureMigrations });
  const outbox = new Outbox(db, { limits: { maxSizeMb: 64, retentionDays: 30 }, sweepIntervalMs: 0 });
  const server: ProducerServer = await startProducerServer({ outbox, port: 0, ...listen });
  cleanup.push(
    () => {
      outbox.close();
      db.close();
    },
    () => server.close(),
  );
  return { db, outbox, server };
}

/** A raw request, so malformed bodies and headers can be sent as-is. */
function raw(
  port: number,
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = { 'content-type': 'application/json' },
) {
  return new Promise<{ status: number; body: any }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (p: Buffer) => parts.push(p));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(parts).toString() || 'null') }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

const rec = { tag: 'line1.flow', ts: '2026-03-01T10:00:00Z', value: 12.5, quality: 'good' as const };

describe('producer API', () => {
  it('answers 202 with the seq only after the commit, and reports status', async () => {
    const { db, server } = await setup();
    const client = new ProducerClient({ url: server.address });
    const result = await client.telemetry([rec]);
    expect(result).toEqual({ seq: 1, lastSeq: 1 });
    expect(Number(db.prepare<{ n: number }>('SELECT COUNT(*) AS n FROM outbox').get()!.n)).toBe(1);
    expect((await client.events([rec], { durable: true })).seq).toBe(2);
    const status = await client.status();
    expect(status.queue).toMatchObject({ depth: 2, dropped: 0 });
    expect(status.queue.bytes).toBeGreaterThan(0);
  });

  it('works over a Unix socket', async () => {
    const socketPath = join(tempDir(), 'producer.sock');
    await setup({ socketPath });
    const client = new ProducerClient({ socketPath });
    expect((await client.telemetry([rec])).seq).toBe(1);
  });

  it('refuses bad input with 400 and details, and keeps serving', async () => {
    const { server, outbox } = await setup();
    const port = server.port!;
    const notJson = await raw(port, 'POST', '/v1/telemetry', '{"records":');
    expect(notJson).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_ERROR' } } });
    const badRecord = await raw(
      port,
      'POST',
      '/v1/telemetry',
      JSON.stringify({ records: [{ tag: '', ts: 'now', value: {} }] }),
    );
    expect(badRecord.status).toBe(400);
    expect(badRecord.body.error.details.map((d: { field: string }) => d.field)).toEqual(
      expect.arrayContaining(['records.0.tag', 'records.0.ts']),
    );
    const unknownField = await raw(port, 'POST', '/v1/events', JSON.stringify({ records: [rec], priority: 1 }));
    expect(unknownField.status).toBe(400);
    const empty = await raw(port, 'POST', '/v1/events', JSON.stringify({ records: [] }));
    expect(empty.status).toBe(400);
    expect(
      (await raw(port, 'POST', '/v1/telemetry', JSON.stringify({ records: [rec] }), { 'content-type': 'text/plain' }))
        .status,
    ).toBe(415);
    expect((await raw(port, 'GET', '/v1/telemetry')).status).toBe(405);
    expect((await raw(port, 'GET', '/nope')).status).toBe(404);
    expect(outbox.stats().depth).toBe(0);
    const client = new ProducerClient({ url: server.address });
    await expect(client.telemetry([{ ...rec, quality: 'excellent' as 'good' }])).rejects.toBeInstanceOf(ProducerError);
    expect((await client.telemetry([rec])).seq).toBe(1);
  });

  it('answers 413 for bodies over 1 MiB, declared or streamed', async () => {
    const { server, outbox } = await setup();
    const huge = JSON.stringify({
      records: Array.from({ length: 12_000 }, (_, i) => ({ ...rec, tag: `t${'x'.repeat(60)}${i}` })),
    });
    expect(Buffer.byteLength(huge)).toBeGreaterThan(1024 * 1024);
    const declared = await raw(server.port!, 'POST', '/v1/telemetry', huge);
    expect(declared).toMatchObject({ status: 413, body: { error: { code: 'PAYLOAD_TOO_LARGE' } } });
    // Chunked, so no Content-Length announces the size: the cap must hold while streaming.
    const streamed = await raw(server.port!, 'POST', '/v1/telemetry', huge, {
      'content-type': 'application/json',
      'transfer-encoding': 'chunked',
    });
    expect(streamed.status).toBe(413);
    expect(outbox.stats().depth).toBe(0);
  });

  it('answers 503 when the outbox cannot store, without crashing', async () => {
    const { server, outbox } = await setup();
    outbox.close();
    const answer = await raw(server.port!, 'POST', '/v1/telemetry', JSON.stringify({ records: [rec] }));
    expect(answer).toMatchObject({ status: 503, body: { error: { code: 'UNAVAILABLE' } } });
    expect((await raw(server.port!, 'GET', '/v1/status')).status).toBe(200);
  });
});
