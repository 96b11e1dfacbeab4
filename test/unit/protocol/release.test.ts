/** Release manifests and key-rotation documents: what verifies, what is refused and why; version ordering. */
import { SignJWT, base64url } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILT_IN_RELEASE_KEYS, RELEASE_TRUST } from '../../../src/protocol/built-in-release-keys.js';
import {
  compareVersions,
  ReleaseManifest,
  TrustedReleaseKeySet,
  verifyReleaseKeys,
  verifyReleaseManifest,
} from '../../../src/protocol/release.js';
import {
  makeReleaseKey,
  runtimeManifest,
  signManifest,
  signRotation,
  type TestReleaseKey,
} from '../../helpers/release.js';

const artifact = Buffer.from('gzip bytes');
let key: TestReleaseKey;
let other: TestReleaseKey;

beforeAll(async () => {
  key = await makeReleaseKey('k1');
  other = await makeReleaseKey('k2');
});

const rejection = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: { code?: string; message: string }) => ({ code: error.code, message: error.message }),
  );

describe('verifyReleaseManifest', () => {
  it('returns the manifest and the kid of a trusted signer, whatever the clock says', async () => {
    const jws = await signManifest(key, runtimeManifest(artifact));
    const { manifest, kid } = await verifyReleaseManifest(jws, [key.trusted]);
    expect(kid).toBe('k1');
    expect(manifest.sha256).toBe(runtimeManifest(artifact).sha256);
  });

  it('refuses a kid it does not trust, and a trusted kid whose key did not sign', async () => {
    const jws = await signManifest(other, runtimeManifest(artifact));
    expect(await rejection(verifyReleaseManifest(jws, [key.trusted]))).toEqual({
      code: 'BAD_SIGNATURE',
      message: 'signed by an untrusted key (kid k2)',
    });
    // Same kid as a trusted key, but another key's signature.
    const forged = await signManifest(
      { ...other, private: { ...other.private, kid: 'k1' } },
      runtimeManifest(artifact),
    );
    expect((await rejection(verifyReleaseManifest(forged, [key.trusted]))).code).toBe('BAD_SIGNATURE');
  });

  it('refuses alg none and HS256, even keyed with the public key', async () => {
    const payload = base64url.encode(JSON.stringify(runtimeManifest(artifact)));
    const header = (alg: string) =>
      base64url.encode(JSON.stringify({ alg, kid: 'k1', typ: 'consystence-release+jws' }));
    expect((await rejection(verifyReleaseManifest(`${header('none')}.${payload}.`, [key.trusted]))).code).toBe(
      'BAD_SIGNATURE',
    );
    const hs = await new SignJWT(runtimeManifest(artifact) as never)
      .setProtectedHeader({ alg: 'HS256', kid: 'k1', typ: 'consystence-release+jws' })
      .sign(new TextEncoder().encode(key.trusted.jwk.kty === 'EC' ? key.trusted.jwk.x : ''));
    expect((await rejection(verifyReleaseManifest(hs, [key.trusted]))).code).toBe('BAD_SIGNATURE');
  });

  it('refuses a rotation document presented as a manifest (wrong typ)', async () => {
    const rotation = await signRotation(key, 1, [key.trusted]);
    expect(await rejection(verifyReleaseManifest(rotation, [key.trusted]))).toEqual({
      code: 'BAD_MANIFEST',
      message: 'not a consystence-release+jws document',
    });
  });

  it('refuses a tampered payload (the artifact hash swapped) with the signature of the original', async () => {
    const jws = await signManifest(key, runtimeManifest(artifact));
    const [h, , s] = jws.split('.');
    const tampered = base64url.encode(JSON.stringify(runtimeManifest(Buffer.from('evil'))));
    expect((await rejection(verifyReleaseManifest(`${h}.${tampered}.${s}`, [key.trusted]))).code).toBe('BAD_SIGNATURE');
  });

  it('refuses a signed manifest that is not valid: runtime without arch, a version naming ..', async () => {
    for (const bad of [
      runtimeManifest(artifact, { arch: 'any' }),
      runtimeManifest(artifact, { version: '..' }),
      { ...runtimeManifest(artifact), extra: 1 },
    ]) {
      const error = await rejection(verifyReleaseManifest(await signManifest(key, bad), [key.trusted]));
      expect(error.code).toBe('BAD_MANIFEST');
      expect(error.message).toMatch(/^the manifest is invalid/);
    }
    expect(ReleaseManifest.safeParse(runtimeManifest(artifact)).success).toBe(true);
  });
});

describe('verifyReleaseKeys', () => {
  it('accepts a newer set signed by a trusted key, including one that revokes the signer', async () => {
    const doc = await verifyReleaseKeys(await signRotation(key, 3, [other.trusted]), [key.trusted], 2);
    expect(doc.keys.map((k) => k.kid)).toEqual(['k2']);
  });

  it('refuses a replayed (not newer) sequence, an untrusted signer and a manifest presented as rotation', async () => {
    const rotation = await signRotation(key, 2, [key.trusted, other.trusted]);
    expect(await rejection(verifyReleaseKeys(rotation, [key.trusted], 2))).toEqual({
      code: 'BAD_MANIFEST',
      message: 'key-rotation document 2 is not newer than the one held (2)',
    });
    expect((await rejection(verifyReleaseKeys(rotation, [other.trusted], 0))).code).toBe('BAD_SIGNATURE');
    const manifest = await signManifest(key, runtimeManifest(artifact));
    expect((await rejection(verifyReleaseKeys(manifest, [key.trusted], 0))).code).toBe('BAD_MANIFEST');
  });

  it('refuses a set with two keys of one kid, or a key that is not P-256', async () => {
    const dup = await signRotation(key, 1, [key.trusted, { ...other.trusted, kid: 'k1' }]);
    expect((await rejection(verifyReleaseKeys(dup, [key.trusted], 0))).message).toMatch(/two keys share a kid/);
    const ed = { kid: 'ed', jwk: { kty: 'OKP', crv: 'Ed25519', x: 'A'.repeat(43) } } as never;
    const okp = await signRotation(key, 1, [ed]);
    expect((await rejection(verifyReleaseKeys(okp, [key.trusted], 0))).message).toMatch(/EC P-256/);
  });
});

describe('the built-in set', () => {
  it('is the committed development key, sequence 0, and says so', () => {
    expect(TrustedReleaseKeySet.parse(BUILT_IN_RELEASE_KEYS).sequence).toBe(0);
    expect(BUILT_IN_RELEASE_KEYS.keys.map((k) => k.kid)).toEqual(['consystence-dev-1']);
    expect(RELEASE_TRUST).toBe('development');
  });
});

describe('compareVersions', () => {
  it('orders as semver does', () => {
    const ordered = [
      '0.9.9',
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
      '1.0.0',
      '1.0.1',
      '1.10.0',
      '2.0.0',
    ];
    for (let i = 0; i < ordered.length - 1; i++) {
      expect(compareVersions(ordered[i]!, ordered[i + 1]!), `${ordered[i]} < ${ordered[i + 1]}`).toBeLessThan(0);
      expect(compareVersions(ordered[i + 1]!, ordered[i]!)).toBeGreaterThan(0);
    }
    expect(compareVersions('1.2.3+build.5', '1.2.3')).toBe(0);
    expect(compareVersions('1.2', '1.2.0')).toBe(0);
  });
});
