import { describe, expect, it } from 'vitest';
import {
  Command,
  ConfigPush,
  DataEnvelope,
  MAX_PAYLOAD_BYTES,
  parsePayload,
  RegisterEdgeRequest,
  CreateSiteRequest,
  detailsFromZod,
} from '../../../src/protocol/index.js';

describe('payload parsing', () => {
  it('accepts a valid telemetry envelope', () => {
    const envelope = {
      seq: 1,
      ts: '2026-11-26T00:00:00.000Z',
      historical: false,
      records: [{ tag: 'a', ts: '2026-11-26T00:00:00Z', value: 1.5 }],
    };
    expect(parsePayload(DataEnvelope, JSON.stringify(envelope))).toEqual({ ok: true, value: envelope });
  });

  it('rejects bad JSON, oversized payloads and schema violations with a reason', () => {
    expect(parsePayload(ConfigPush, '{')).toEqual({ ok: false, error: 'payload is not valid JSON' });
    const huge = parsePayload(ConfigPush, 'x'.repeat(MAX_PAYLOAD_BYTES + 1));
    expect(huge.ok).toBe(false);
    const wrong = parsePayload(ConfigPush, JSON.stringify({ version: 0, config: { heartbeatSeconds: 1 } }));
    expect(wrong.ok).toBe(false);
    if (!wrong.ok) expect(wrong.error).toMatch(/version/);
    const unknown = parsePayload(ConfigPush, JSON.stringify({ version: 2, config: { surprise: true } }));
    expect(unknown.ok).toBe(false);
  });

  it('parses commands leniently on name so unknown names can be answered UNKNOWN_COMMAND', () => {
    expect(Command.safeParse({ id: 'c1', name: 'format-disk' }).success).toBe(true);
    expect(Command.safeParse({ name: 'ping' }).success).toBe(false);
  });
});

describe('HTTP bodies', () => {
  it('refuses unknown fields and private key material', () => {
    const base = {
      edgeId: 'orin-01',
      hardwareId: 'a'.repeat(64),
      version: '0.1.0',
      hostname: 'orin',
      publicKey: { kty: 'OKP', crv: 'Ed25519', x: 'A'.repeat(43) },
    };
    expect(RegisterEdgeRequest.safeParse(base).success).toBe(true);
    expect(RegisterEdgeRequest.safeParse({ ...base, extra: 1 }).success).toBe(false);
    expect(
      RegisterEdgeRequest.safeParse({ ...base, publicKey: { ...base.publicKey, d: 'A'.repeat(43) } }).success,
    ).toBe(false);
  });

  it('names the failing fields in details', () => {
    const result = CreateSiteRequest.safeParse({
      name: 'x',
      slug: 'Bad Slug',
      timezone: 'Mars/Olympus',
      location: { latitude: 91, longitude: 0 },
      extra: 1,
    });
    expect(result.success).toBe(false);
    const fields = detailsFromZod(result.error!)
      .map((d) => d.field)
      .sort();
    expect(fields).toEqual(['(body)', 'location.latitude', 'slug', 'timezone'].sort());
  });
});
