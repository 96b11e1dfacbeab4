import { secretVariants } from '../../../../src/edge/diagnostics/secrets.js';
import { describe, expect, it } from 'vitest';
import { formatTrafficLine, trafficLine } from '../../../../src/edge/diagnostics/traffic-summary.js';

const topic = 'consystence/v1/sites/s/edges/e/cmd/result';
const at = new Date('2026-11-26T10:42:05.320Z');

describe('watch lines', () => {
  it('summarise a data envelope by seq, record count and first record', () => {
    const payload = JSON.stringify({
      seq: 42,
      ts: at.toISOString(),
      historical: true,
      records: [
        { tag: 'pump.rpm', ts: at.toISOString(), value: 1200 },
        { tag: 'b', ts: at.toISOString(), value: 1 },
      ],
    });
    const line = trafficLine('out', 'consystence/v1/sites/s/edges/e/telemetry', payload, at);
    expect(line).toMatchObject({ direction: 'out', bytes: Buffer.byteLength(payload) });
    expect(line.summary).toBe('seq 42, 2 record(s), historical pump.rpm=1200');
  });

  it('never show a secret field, nor anything shaped like a token', () => {
    const jwt = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    const payload = JSON.stringify({ id: '1', ok: true, result: { edgeToken: 'secret-value', note: jwt } });
    const line = trafficLine('out', topic, payload, at);
    expect(line.summary).not.toContain('secret-value');
    expect(line.summary).not.toContain(jwt);
    expect(formatTrafficLine(line)).toBe(`10:42:05.320 → ${topic}  ${line.bytes} B  ${line.summary}`);
  });

  it("never show the device's own key or token, even a slice behind a one-character prefix", () => {
    const d = 'q3Zx9Lw-PmK_2bVtR8nYh4JcD1sFgA0eUoIi5kE7rTy';
    const token = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJvcmluLTEifQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg';
    const secrets = secretVariants([d, token]);
    const payload = JSON.stringify({ note: `x${d}`, other: token.slice(40, 70) });
    const line = trafficLine('in', topic, payload, at, secrets);
    expect(line.summary).not.toContain(d.slice(0, 16));
    expect(line.summary).not.toContain(token.slice(40, 56));
    expect(line.summary).toContain('[redacted]');
    const records = JSON.stringify({ seq: 1, records: [{ tag: `t${d}`, value: 1 }] });
    expect(trafficLine('out', topic, records, at, secrets).summary).not.toContain(d.slice(0, 16));
  });

  it('say what a payload is when it is empty, not JSON, or long', () => {
    expect(trafficLine('in', topic, '', at).summary).toBe('(empty)');
    expect(trafficLine('in', topic, Buffer.from([0xff, 0x00]), at).summary).toBe('(2 bytes, not JSON)');
    expect(trafficLine('in', topic, JSON.stringify({ a: 'x'.repeat(500) }), at).summary).toHaveLength(160);
  });
});
