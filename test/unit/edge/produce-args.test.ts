/** `produce`'s flags: value parsing, validation with the producer API's schema, --count and batching, where to send. */
import { describe, expect, it } from 'vitest';
import {
  batchRecords,
  MAX_BATCH,
  parseValue,
  producePlan,
  producerTarget,
} from '../../../src/edge/cli/produce-args.js';
import { EdgeError } from '../../../src/edge/errors.js';

const NOW = new Date('2026-03-01T10:00:00.000Z');
const noStdin = () => Promise.reject(new Error('stdin must not be read'));
const plan = (values: Record<string, unknown>, stdin: () => Promise<string> = noStdin, env: NodeJS.ProcessEnv = {}) =>
  producePlan(values, env, stdin, () => NOW);

describe('parseValue', () => {
  it.each([
    ['12.5', 12.5],
    ['-3', -3],
    ['1e3', 1000],
    ['.5', 0.5],
    ['true', true],
    ['false', false],
    ['null', null],
    ['0x1f', '0x1f'],
    ['', ''],
    [' 1', ' 1'],
    ['Infinity', 'Infinity'],
    ['pump on', 'pump on'],
    ['TRUE', 'TRUE'],
  ])('%j → %j', (text, value) => {
    expect(parseValue(text)).toEqual(value);
  });
});

describe('producePlan', () => {
  it('builds one record from --tag/--value with the current time, to the default port', async () => {
    const p = await plan({ tag: 'line1.flow', value: '12.5', quality: 'good' });
    expect(p).toMatchObject({
      channel: 'telemetry',
      durable: false,
      total: 1,
      address: 'http://127.0.0.1:8719',
      target: { url: 'http://127.0.0.1:8719' },
    });
    expect(p.batches).toEqual([[{ tag: 'line1.flow', ts: NOW.toISOString(), value: 12.5, quality: 'good' }]]);
  });

  it('--count counts a numeric value up and batches ≤ 500 per request; text repeats', async () => {
    const p = await plan({ tag: 't', value: '10', count: '1201', durable: true, channel: 'events' });
    expect(p).toMatchObject({ channel: 'events', durable: true, total: 1201 });
    expect(p.batches.map((b) => b.length)).toEqual([500, 500, 201]);
    expect(p.batches[2]!.at(-1)!.value).toBe(1210);
    const text = await plan({ tag: 't', value: 'on', count: '3', batch: '1' });
    expect(text.batches).toHaveLength(3);
    expect(text.batches.flat().map((r) => r.value)).toEqual(['on', 'on', 'on']);
  });

  it('reads --records - from stdin and validates every record', async () => {
    const good = JSON.stringify([
      { tag: 'a', ts: '2026-01-01T00:00:00Z', value: 1 },
      { tag: 'b', ts: '2026-01-01T00:00:00Z', value: null, quality: 'bad' },
    ]);
    expect((await plan({ records: '-' }, async () => good)).total).toBe(2);
    await expect(plan({ records: '-' }, async () => '[{"tag":"a","ts":"yesterday","value":1}]')).rejects.toThrow(
      /records\[0\]\.ts/,
    );
    await expect(
      plan({ records: '-' }, async () => '[{"tag":"a","ts":"2026-01-01T00:00:00Z","value":1,"extra":1}]'),
    ).rejects.toThrow(/records\[0\]/);
    await expect(plan({ records: '-' }, async () => '[]')).rejects.toThrow(/records/);
    await expect(plan({ records: '-' }, async () => 'not json')).rejects.toThrow(/not JSON/);
  });

  it.each([
    [{ tag: 't' }, /--tag and --value/],
    [{ value: '1' }, /--tag and --value/],
    [{ tag: '', value: '1' }, /--tag/],
    [{ tag: 't', value: '1', quality: 'meh' }, /--quality/],
    [{ tag: 't', value: '1', ts: '10:00' }, /--ts/],
    [{ tag: 't', value: 'x'.repeat(4097) }, /--value/],
    [{ tag: 't', value: '1', channel: 'logs' }, /--channel/],
    [{ tag: 't', value: '1', count: '0' }, /--count/],
    [{ tag: 't', value: '1', count: '100001' }, /--count/],
    [{ tag: 't', value: '1', count: '2.5' }, /--count/],
    [{ tag: 't', value: '1', batch: String(MAX_BATCH + 1) }, /--batch/],
    [{ records: 'file.json' }, /only '-'/],
    [{ records: '-', tag: 't' }, /cannot be combined with --tag/],
    [{ tag: 't', value: '1', 'producer-port': '0' }, /--producer-port/],
    [{ tag: 't', value: '1', 'producer-port': 'off' }, /--producer-port/],
    [{ tag: 't', value: '1', 'producer-port': 'abc' }, /--producer-port/],
  ])('refuses %j as a usage error', async (values, message) => {
    const error = await plan(values).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EdgeError);
    expect((error as EdgeError).exitCode).toBe(2);
    expect((error as EdgeError).message).toMatch(message);
  });
});

describe('producerTarget', () => {
  it('uses the same flags and environment as run: flag over env, a socket over a port', () => {
    expect(producerTarget({}, { CONSYSTENCE_EDGE_PRODUCER_PORT: '9001' }).target).toEqual({
      url: 'http://127.0.0.1:9001',
    });
    expect(producerTarget({ port: '9000' }, { CONSYSTENCE_EDGE_PRODUCER_PORT: '9001' }).target).toEqual({
      url: 'http://127.0.0.1:9000',
    });
    expect(producerTarget({}, { CONSYSTENCE_EDGE_PRODUCER_SOCKET: '/run/cst.sock' })).toEqual({
      target: { socketPath: '/run/cst.sock' },
      address: 'unix:/run/cst.sock',
    });
  });
});

describe('batchRecords', () => {
  it('keeps each request under the 1 MiB body limit, in order', () => {
    const big = Array.from({ length: 400 }, (_, i) => ({
      tag: 't',
      ts: NOW.toISOString(),
      value: `${i}:${'x'.repeat(4000)}`,
    }));
    const batches = batchRecords(big, 500);
    expect(batches.length).toBeGreaterThan(1);
    for (const b of batches)
      expect(Buffer.byteLength(JSON.stringify({ records: b, durable: true }))).toBeLessThan(1024 * 1024);
    expect(batches.flat()).toEqual(big);
  });
});
