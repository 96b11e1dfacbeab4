import { describe, expect, it } from 'vitest';
import { chunkRecords, envelopeJson } from '../../../src/edge/outbox/chunk.js';
import { MAX_RECORDS_BYTES } from '../../../src/edge/outbox/types.js';
import { DataEnvelope } from '../../../src/protocol/messages.js';

const rec = (i: number, value: string | number = i) => ({ tag: `t${i}`, ts: '2026-01-01T00:00:00Z', value });

describe('chunkRecords / envelopeJson', () => {
  it('keeps small batches in one chunk whose byte count is exact (UTF-8)', () => {
    const records = [rec(1, 'température °C'), rec(2)];
    const [chunk, ...rest] = chunkRecords(records);
    expect(rest).toEqual([]);
    expect(chunk!.bytes).toBe(Buffer.byteLength(chunk!.json));
    expect(JSON.parse(chunk!.json)).toEqual(records);
  });

  it('splits by bytes and by record count, never exceeding either', () => {
    const big = Array.from({ length: 200 }, (_, i) => rec(i, 'x'.repeat(4000)));
    const chunks = chunkRecords(big);
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) expect(c.bytes).toBeLessThanOrEqual(MAX_RECORDS_BYTES);
    expect(chunks.flatMap((c) => JSON.parse(c.json) as unknown[])).toHaveLength(200);
    const many = chunkRecords(Array.from({ length: 20_000 }, (_, i) => rec(i, 0)));
    for (const c of many) expect((JSON.parse(c.json) as unknown[]).length).toBeLessThanOrEqual(10_000);
    expect(many.reduce((n, c) => n + (JSON.parse(c.json) as unknown[]).length, 0)).toBe(20_000);
  });

  it('builds an envelope that the contract schema accepts', () => {
    const [chunk] = chunkRecords([rec(1)]);
    const parsed = DataEnvelope.parse(JSON.parse(envelopeJson(7, '2026-01-01T00:00:00.000Z', true, chunk!.json)));
    expect(parsed).toMatchObject({ seq: 7, historical: true });
  });
});
