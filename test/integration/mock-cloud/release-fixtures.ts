/**
 * Test release bundles, made the way the design describes them (manifest compact JWS, `\n`, gzip artifact), with
 * a key generated per test file, so the tests never depend on the committed development key.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { CompactSign, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import type { ReleaseManifest, TrustedReleaseKey } from '../../../src/protocol/index.js';

export interface ReleaseKey {
  privateKey: CryptoKey;
  trusted: TrustedReleaseKey;
}

export async function releaseKey(kid = 'test-release-1'): Promise<ReleaseKey> {
  const pair = await generateKeyPair('ES256', { extractable: true });
  const { kty, crv, x, y } = await exportJWK(pair.publicKey);
  return { privateKey: pair.privateKey, trusted: { kid, jwk: { kty, crv, x, y } as TrustedReleaseKey['jwk'] } };
}

export async function signManifest(key: ReleaseKey, manifest: object, typ = 'consystence-release+jws') {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(manifest)))
    .setProtectedHeader({ alg: 'ES256', kid: key.trusted.kid, typ })
    .sign(key.privateKey);
}

/**
 * A runtime bundle: `content` gzipped as the artifact and a manifest describing it. `manifest` overrides fields;
 * `artifact` replaces the artifact after signing (a tampered bundle).
 */
export async function runtimeBundle(
  key: ReleaseKey,
  options: { manifest?: Partial<ReleaseManifest>; content?: Buffer; artifact?: Buffer } = {},
): Promise<{ bytes: Buffer; manifest: ReleaseManifest }> {
  const content = options.content ?? Buffer.from(`#!/bin/sh\necho consystence-edge ${Math.random()}\n`);
  const artifact = gzipSync(content);
  const manifest: ReleaseManifest = {
    kind: 'runtime',
    name: 'consystence-edge',
    version: '1.2.0',
    arch: 'x64',
    size: artifact.length,
    sha256: createHash('sha256').update(artifact).digest('hex'),
    compression: 'gzip',
    installedSize: content.length,
    createdAt: '2026-11-20T10:00:00.000Z',
    ...options.manifest,
  };
  const jws = await signManifest(key, manifest);
  return { bytes: Buffer.concat([Buffer.from(`${jws}\n`), options.artifact ?? artifact]), manifest };
}
