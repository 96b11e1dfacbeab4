import { describe, expect, it } from 'vitest';
import { parseCliArgs, UsageError } from '../../../src/mock/cloud/cli-args.js';
import { hashPassword, verifyPassword } from '../../../src/mock/cloud/passwords.js';
import { requestFingerprint } from '../../../src/mock/cloud/request-fingerprint.js';
import { DEFAULT_SEED, DEMO_ORG_ID, Seed } from '../../../src/mock/cloud/seed.js';

describe('passwords', () => {
  it('verifies the right password only, and never stores it in clear', async () => {
    const stored = hashPassword('consystence');
    expect(stored).not.toContain('consystence');
    expect(await verifyPassword('consystence', stored)).toBe(true);
    expect(await verifyPassword('Consystence', stored)).toBe(false);
    expect(await verifyPassword('consystence', 'garbage')).toBe(false);
  });
});

describe('requestFingerprint', () => {
  it('ignores key order but not values', () => {
    expect(requestFingerprint({ a: 1, b: { c: 2, d: 3 } })).toBe(requestFingerprint({ b: { d: 3, c: 2 }, a: 1 }));
    expect(requestFingerprint({ a: 1 })).not.toBe(requestFingerprint({ a: 2 }));
  });
});

describe('seed', () => {
  it('the default seed is valid and has the documented organisation', () => {
    const seed = Seed.parse(DEFAULT_SEED);
    expect(seed.organisations[0]).toMatchObject({
      id: DEMO_ORG_ID,
      name: 'Demo Mining Co',
      slug: 'demo',
      timezone: 'Australia/Sydney',
    });
    expect(seed.organisations[0]!.members.map((m) => m.role)).toEqual([
      'owner',
      'admin',
      'engineer',
      'operator',
      'viewer',
    ]);
  });

  it('refuses a member who is not a user', () => {
    const bad = { ...DEFAULT_SEED, users: [] };
    expect(Seed.safeParse(bad).success).toBe(false);
  });
});

describe('parseCliArgs', () => {
  it('defaults to 127.0.0.1 and port 0, in memory', () => {
    expect(parseCliArgs([])).toEqual({ host: '127.0.0.1', port: 0 });
  });

  it('maps every flag', () => {
    expect(
      parseCliArgs([
        '--host',
        '0.0.0.0',
        '--port',
        '8080',
        '--db',
        'x.db',
        '--public-url',
        'https://cloud.test',
        '--edge-token-ttl',
        '600',
      ]),
    ).toEqual({
      host: '0.0.0.0',
      port: 8080,
      dbPath: 'x.db',
      publicUrl: 'https://cloud.test',
      edgeTokenTtlSeconds: 600,
    });
  });

  it('takes a token lifetime under a minute only when a test lowers the minimum', () => {
    expect(parseCliArgs(['--test-min-edge-token-ttl', '5', '--edge-token-ttl', '10'])).toMatchObject({
      edgeTokenTtlSeconds: 10,
    });
    expect(() => parseCliArgs(['--edge-token-ttl', '59'])).toThrow(/at least 60 seconds/);
    expect(parseCliArgs(['--edge-token-ttl', '60'])).toMatchObject({ edgeTokenTtlSeconds: 60 });
  });

  it.each([
    [['--port', '70000']],
    [['--edge-token-ttl', '5']],
    [['--test-min-edge-token-ttl', '5', '--edge-token-ttl', '4']],
    [['--test-min-edge-token-ttl', '0', '--edge-token-ttl', '1']],
    [['--test-min-edge-token-ttl', '120']],
    [['extra']],
    [['--tls-key', 'k.pem']],
  ])('refuses %j', (args) => {
    expect(() => parseCliArgs(args)).toThrow(UsageError);
  });
});
