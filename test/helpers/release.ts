/**
 * Release keys, signed manifests and bundle files for tests, made with the same signing code as the release
 * scripts (scripts/release/lib.ts), so a test bundle is exactly what `npm run release` would write.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { exportJWK, generateKeyPair } from 'jose';
import { packTar, type TarEntry } from '../../src/common/tar/ustar.js';
import { writeBundle } from '../../src/protocol/release-bundle.js';
import {
  RELEASE_JWS_TYPE,
  RELEASE_KEYS_JWS_TYPE,
  type ReleaseManifest,
  type TrustedReleaseKey,
} from '../../src/protocol/release.js';
import { type PrivateReleaseJwk, publicHalf, signJws } from '../../scripts/release/lib.js';

export interface TestReleaseKey {
  private: PrivateReleaseJwk;
  trusted: TrustedReleaseKey;
}

export async function makeReleaseKey(kid: string): Promise<TestReleaseKey> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const { x, y, d } = await exportJWK(privateKey);
  const key: PrivateReleaseJwk = { kty: 'EC', crv: 'P-256', x: x!, y: y!, d: d!, kid };
  return { private: key, trusted: publicHalf(key) };
}

export const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

export function runtimeManifest(artifact: Buffer, overrides: Partial<ReleaseManifest> = {}): ReleaseManifest {
  return {
    kind: 'runtime',
    name: 'consystence-edge',
    version: '1.2.3',
    arch: 'x64',
    size: artifact.length,
    sha256: sha256(artifact),
    compression: 'gzip',
    installedSize: 1000,
    createdAt: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}

/** A model's artifact (gzipped ustar) and its manifest listing every entry. */
export function modelRelease(
  files: TarEntry[],
  overrides: Partial<ReleaseManifest> = {},
): { artifact: Buffer; manifest: ReleaseManifest } {
  const artifact = gzipSync(packTar(files));
  return {
    artifact,
    manifest: {
      kind: 'model',
      name: 'detector',
      version: '1.0.0',
      arch: 'any',
      size: artifact.length,
      sha256: sha256(artifact),
      compression: 'gzip',
      installedSize: files.reduce((n, f) => n + f.data.length, 0) || 1,
      createdAt: '2026-01-01T00:00:00.000Z',
      files: files.map((f) => ({ path: f.name, size: f.data.length, sha256: sha256(f.data) })),
      ...overrides,
    },
  };
}

export const signManifest = (key: TestReleaseKey, manifest: unknown): Promise<string> =>
  signJws(key.private, RELEASE_JWS_TYPE, manifest);

export const signRotation = (key: TestReleaseKey, sequence: number, keys: TrustedReleaseKey[]): Promise<string> =>
  signJws(key.private, RELEASE_KEYS_JWS_TYPE, {
    typ: 'release-keys',
    sequence,
    keys,
    issuedAt: '2026-01-01T00:00:00.000Z',
  });

/** Writes `<dir>/<name>` as a bundle of `artifact` with a manifest for it signed by `key`. */
export async function writeTestBundle(
  dir: string,
  key: TestReleaseKey,
  artifact: Buffer,
  manifest: ReleaseManifest = runtimeManifest(artifact),
  name = 'test.bundle',
): Promise<string> {
  const path = join(dir, name);
  await writeBundle(path, await signManifest(key, manifest), artifact);
  return path;
}
