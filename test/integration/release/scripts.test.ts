/**
 * The release scripts as an operator runs them (child processes): keygen, release (runtime and model), rotate,
 * and build-binary's --release-keys checks. What they write is checked with the readers the cloud, the site
 * server and the device use, and every bad flag is a usage error (exit 2) that writes nothing.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { identityMigrations } from '../../../src/edge/migrations/index.js';
import { ModelInstaller } from '../../../src/edge/update/installers/model.js';
import { ReleaseKeyStore } from '../../../src/edge/update/trust/release-key-store.js';
import { readBundle, verifyBundle } from '../../../src/protocol/release-bundle.js';
import { TrustedReleaseKeySet, verifyReleaseKeys } from '../../../src/protocol/release.js';
import { openDatabase } from '../../../src/storage/index.js';
import { BUN, commandFor, runToEnd } from '../../helpers/process.js';
import { sha256 } from '../../helpers/release.js';
import { tempDir } from '../../helpers/tmp.js';

const script = (name: string) => commandFor('node', `scripts/release/${name}.ts`);
const run = (name: string, argv: string[], env: NodeJS.ProcessEnv = {}) => {
  const { command, args } = script(name);
  return runToEnd(command, [...args, ...argv], { env, timeoutMs: 60_000 });
};
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

let keys: string;
beforeAll(async () => {
  keys = join(tempDir('cst-release-'), 'keys');
  const result = await run('keygen', ['--out', keys, '--kid', 'test-key-1']);
  expect(result.code, result.stderr).toBe(0);
});

describe('release:keygen', () => {
  it('writes the private key 0600 and the public key and a first set, and never prints the private key', async () => {
    expect(statSync(join(keys, 'release-signing.private.jwk')).mode & 0o777).toBe(0o600);
    const privateJwk = readJson(join(keys, 'release-signing.private.jwk'));
    expect(privateJwk).toMatchObject({ kty: 'EC', crv: 'P-256', kid: 'test-key-1' });
    expect(readJson(join(keys, 'release-signing.public.json'))).toEqual({
      kid: 'test-key-1',
      jwk: { kty: 'EC', crv: 'P-256', x: privateJwk.x, y: privateJwk.y },
    });
    expect(TrustedReleaseKeySet.parse(readJson(join(keys, 'release-keys.json'))).sequence).toBe(0);
  });

  it('refuses to overwrite any of its files, and a bad kid, changing nothing', async () => {
    const before = readFileSync(join(keys, 'release-signing.private.jwk'));
    const again = await run('keygen', ['--out', keys]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists; a key is never overwritten/);
    expect(readFileSync(join(keys, 'release-signing.private.jwk')).equals(before)).toBe(true);
    const dir = tempDir('cst-keygen-');
    const bad = await run('keygen', ['--out', dir, '--kid', 'has space']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--kid must be/);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('release (runtime)', () => {
  it('gzips the binary into a bundle whose manifest verifies, with SOURCE_DATE_EPOCH as createdAt', async () => {
    const dir = tempDir('cst-release-');
    const binary = join(dir, 'consystence-edge-linux-arm64');
    writeFileSync(binary, Buffer.alloc(200_000, 'binary '));
    const result = await run(
      'release',
      [
        '--arch',
        'arm64',
        '--key',
        join(keys, 'release-signing.private.jwk'),
        '--binary',
        binary,
        '--version',
        '2.3.4',
        '--notes',
        'fixes',
        '--out',
        dir,
      ],
      { SOURCE_DATE_EPOCH: '1767225600' },
    );
    expect(result.code, result.stderr).toBe(0);
    const path = join(dir, 'consystence-edge-2.3.4-arm64.bundle');
    const { manifest, kid, artifactOffset } = await verifyBundle(path, readJson(join(keys, 'release-keys.json')).keys);
    expect(kid).toBe('test-key-1');
    expect(manifest).toMatchObject({
      kind: 'runtime',
      name: 'consystence-edge',
      version: '2.3.4',
      arch: 'arm64',
      installedSize: 200_000,
      createdAt: '2026-01-01T00:00:00.000Z',
      notes: 'fixes',
    });
    expect(gunzipSync(readFileSync(path).subarray(artifactOffset)).equals(readFileSync(binary))).toBe(true);
  });

  it('refuses bad flags with a clear message and writes nothing', async () => {
    const dir = tempDir('cst-release-');
    const key = join(keys, 'release-signing.private.jwk');
    const binary = join(dir, 'bin');
    writeFileSync(binary, 'x');
    const cases: Array<[string[], RegExp]> = [
      [['--arch', 'mips', '--key', key, '--binary', binary, '--version', '1.0.0'], /--arch must be x64 or arm64/],
      [['--arch', 'x64', '--binary', binary, '--version', '1.0.0'], /--key FILE .* is required/],
      [['--arch', 'x64', '--key', join(keys, 'release-keys.json'), '--binary', binary], /is not a private release key/],
      [['--arch', 'x64', '--key', key, '--binary', join(dir, 'missing')], /is not a regular file/],
      [['--arch', 'x64', '--key', key, '--binary', binary, '--version', '../1'], /--version must be a version/],
      [['--arch', 'x64', '--key', key, '--binary', binary, '--bogus', '1'], /Unknown option '--bogus'/],
      [['--kind', 'model', '--name', 'Bad_Name', '--version', '1', '--key', key, binary], /--name must be lowercase/],
      [['--kind', 'model', '--name', 'm', '--version', '1', '--key', key], /name the model's files/],
    ];
    for (const [argv, message] of cases) {
      const result = await run('release', [...argv, '--out', dir]);
      expect(result.code, argv.join(' ')).toBe(2);
      expect(result.stderr, argv.join(' ')).toMatch(message);
      // The private key never reaches the terminal.
      expect(result.stderr).not.toContain(readJson(key).d);
    }
    expect(readdirSync(dir)).toEqual(['bin']);
  });
});

describe('release --kind model', () => {
  it('packs a folder into a bundle the model installer installs file for file', async () => {
    const dir = tempDir('cst-release-');
    const model = join(dir, 'model');
    mkdirSync(join(model, 'labels'), { recursive: true });
    writeFileSync(join(model, 'weights.onnx'), Buffer.alloc(10_000, 'w'));
    writeFileSync(join(model, 'labels', 'en.txt'), 'cat\ndog\n');
    const result = await run('release', [
      '--kind',
      'model',
      '--name',
      'detector',
      '--version',
      '4.0.0',
      '--key',
      join(keys, 'release-signing.private.jwk'),
      '--out',
      dir,
      model,
    ]);
    expect(result.code, result.stderr).toBe(0);
    const path = join(dir, 'detector-4.0.0-any.bundle');
    const { manifest, artifactOffset } = await verifyBundle(path, readJson(join(keys, 'release-keys.json')).keys);
    expect(manifest.files).toEqual([
      { path: 'labels/en.txt', size: 8, sha256: sha256(Buffer.from('cat\ndog\n')) },
      { path: 'weights.onnx', size: 10_000, sha256: sha256(Buffer.alloc(10_000, 'w')) },
    ]);
    // The device installs the artifact alone (what the site server serves): the bytes after the manifest line.
    const artifact = join(dir, 'artifact');
    writeFileSync(artifact, readFileSync(path).subarray(artifactOffset));
    const state = tempDir('cst-release-state-');
    await new ModelInstaller(state).install({ manifest }, artifact);
    expect(readFileSync(join(state, 'models/detector/current/labels/en.txt'), 'utf8')).toBe('cat\ndog\n');
    expect((await readBundle(path)).artifactSize).toBe(manifest.size);
  });
});

describe('release:rotate', () => {
  it('writes a document signed by the current key that a device applies, revoking the keys left out', async () => {
    const dir = tempDir('cst-rotate-');
    const next = join(dir, 'next');
    expect((await run('keygen', ['--out', next, '--kid', 'test-key-2'])).code).toBe(0);
    const out = join(dir, 'rotation-1.jws');
    const result = await run('rotate', [
      '--key',
      join(keys, 'release-signing.private.jwk'),
      '--sequence',
      '1',
      '--keys',
      join(next, 'release-signing.public.json'),
      '--out',
      out,
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/test-key-1 is revoked by this document/);
    const jws = readFileSync(out, 'utf8').trim();
    const builtIn = TrustedReleaseKeySet.parse(readJson(join(keys, 'release-keys.json')));
    expect((await verifyReleaseKeys(jws, builtIn.keys, 0)).keys.map((k) => k.kid)).toEqual(['test-key-2']);
    const { db } = await openDatabase({ path: ':memory:', migrations: identityMigrations });
    const store = new ReleaseKeyStore(db, builtIn);
    await store.applyRotation(jws);
    expect(store.trustedKeys().keys.map((k) => k.kid)).toEqual(['test-key-2']);
    db.close();

    const again = await run('rotate', [
      '--key',
      join(keys, 'release-signing.private.jwk'),
      '--sequence',
      '2',
      '--keys',
      join(next, 'release-signing.public.json'),
      '--out',
      out,
    ]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists; it is never overwritten/);
    const zero = await run('rotate', [
      '--key',
      join(keys, 'release-signing.private.jwk'),
      '--sequence',
      '0',
      '--keys',
      'x',
      '--out',
      join(dir, 'z'),
    ]);
    expect(zero.stderr).toMatch(/--sequence must be a whole number from 1/);
    expect(existsSync(join(dir, 'z'))).toBe(false);
  });
});

describe('build-binary --release-keys', () => {
  it('refuses the development set and a malformed file before building anything', async () => {
    const dir = tempDir('cst-build-keys-');
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"sequence":0,"keys":[]}');
    for (const [file, message] of [
      ['keys/release-keys.json', /contains the development key/],
      [bad, /is not a trusted key set/],
    ] as const) {
      const result = await runToEnd(
        BUN,
        ['scripts/build-binary.ts', '--arch', 'x64', '--out-dir', dir, '--release-keys', file],
        {
          timeoutMs: 60_000,
        },
      );
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(message);
    }
    expect(readdirSync(dir)).toEqual(['bad.json']);
  });

  it('embeds a production set: version says custom and the development key is not in the binary', async () => {
    const dir = tempDir('cst-build-keys-');
    const build = await runToEnd(
      BUN,
      ['scripts/build-binary.ts', '--arch', 'x64', '--out-dir', dir, '--release-keys', join(keys, 'release-keys.json')],
      { timeoutMs: 300_000 },
    );
    expect(build.code, build.stderr).toBe(0);
    const binary = join(dir, 'consystence-edge-linux-x64');
    const version = await runToEnd(binary, ['version', '--json'], { timeoutMs: 60_000 });
    expect(JSON.parse(version.stdout)).toMatchObject({ releaseKeys: 'custom' });
    expect(readJson(join(dir, 'build-info.json')).binaries.x64.trust).toBe('custom');
    const bytes = readFileSync(binary);
    const devKey = readJson('keys/release-keys.json').keys[0].jwk.x as string;
    expect(bytes.includes(devKey)).toBe(false);
    expect(bytes.includes(readJson(join(keys, 'release-signing.public.json')).jwk.x)).toBe(true);
  });
});
