import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCliArgs, UsageError } from '../../../src/mock/cloud/cli-args.js';
import { hashPassword, verifyPassword } from '../../../src/mock/cloud/passwords.js';
import { requestFingerprint } from '../../../src/mock/cloud/request-fingerprint.js';
import { DEV_LICENCE_SIGNING_KEY_PATH, readDevLicenceSigningJwk } from '../../../src/mock/cloud/licence-signing.js';
import { DEFAULT_SEED, DEMO_LICENCE_KEYS, DEMO_ORG_ID, Seed } from '../../../src/mock/cloud/seed.js';
import { tempDir } from '../../helpers/tmp.js';

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

  it('gives the demo organisation the documented licences, and refuses a key listed twice', () => {
    expect(Seed.parse(DEFAULT_SEED).organisations[0]!.licences).toEqual(DEMO_LICENCE_KEYS);
    const twice = {
      ...DEFAULT_SEED,
      organisations: [
        ...DEFAULT_SEED.organisations,
        { ...DEFAULT_SEED.organisations[0]!, id: '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0c12', slug: 'other' },
      ],
    };
    expect(Seed.safeParse(twice).error?.issues[0]?.message).toBe('this licence key is listed twice');
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

  it('reads the licence signing key from --licence-key-file, and never echoes a bad one', () => {
    expect(parseCliArgs(['--licence-key-file', DEV_LICENCE_SIGNING_KEY_PATH])).toMatchObject({
      licenceSigningJwk: readDevLicenceSigningJwk(),
    });
    const dir = tempDir('licence-key-');
    const { d, ...publicOnly } = readDevLicenceSigningJwk();
    writeFileSync(join(dir, 'public.jwk'), JSON.stringify(publicOnly));
    writeFileSync(join(dir, 'garbage.jwk'), `not json ${d}`);
    expect(() => parseCliArgs(['--licence-key-file', join(dir, 'public.jwk')])).toThrow(
      /not a private EC P-256 JWK with a kid \(d\)/,
    );
    const error = (() => {
      try {
        parseCliArgs(['--licence-key-file', join(dir, 'garbage.jwk')]);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error).toBeInstanceOf(UsageError);
    expect(error?.message).toMatch(/not JSON/);
    expect(error?.message).not.toContain(d);
  });

  it.each([
    [['--licence-key-file', '/nonexistent/licence.jwk']],
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
