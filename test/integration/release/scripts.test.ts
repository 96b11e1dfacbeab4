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
import { BUN, commandFor, ROOT, runToEnd } from '../../helpers/process.js';
import { sha256 } from '../../helpers/release.js';
import { tempDir } from '../../helpers/tmp.js';

const script = (name: string) => commandFor('node', `scripts/release/${name}.ts`);
const run = (name: string, argv: string[], env: NodeJS.ProcessEnv = {}) => {
  const { command, args } = script(name);
  return runToEnd(command, [...args, ...argv], { env, timeoutMs: 60_000 });
};
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

/** `size` bytes that start like a 64-bit little-endian ELF executable for `machine` (62 x86-64, 183 aarch64). */
function fakeElf(machine: number, size = 4096): Buffer {
  const data = Buffer.alloc(size, 'binary ');
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0]).copy(data);
  data.writeUInt16LE(machine, 18);
  return data;
}

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
    writeFileSync(binary, fakeElf(183, 200_000));
    const result = await run(
      'release',
      [
        '--unchecked-version', // it cannot run: it only looks like an aarch64 binary
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
    writeFileSync(binary, fakeElf(62));
    const arm64 = join(dir, 'arm64');
    writeFileSync(arm64, fakeElf(183));
    const text = join(dir, 'text');
    writeFileSync(text, '#!/bin/sh\necho \'{"version":"1.0.0"}\'\n', { mode: 0o755 });
    const cases: Array<[string[], RegExp]> = [
      [['--arch', 'mips', '--key', key, '--binary', binary, '--version', '1.0.0'], /--arch must be x64 or arm64/],
      [['--arch', 'x64', '--binary', binary, '--version', '1.0.0'], /--key FILE .* is required/],
      [['--arch', 'x64', '--key', join(keys, 'release-keys.json'), '--binary', binary], /is not a private release key/],
      [['--arch', 'x64', '--key', key, '--binary', join(dir, 'missing')], /is not a regular file/],
      [['--arch', 'x64', '--key', key, '--binary', binary, '--version', '../1'], /--version must be a version/],
      [['--arch', 'x64', '--key', key, '--binary', binary, '--bogus', '1'], /Unknown option '--bogus'/],
      [['--kind', 'model', '--name', 'Bad_Name', '--version', '1', '--key', key, binary], /--name must be lowercase/],
      [['--kind', 'model', '--name', 'm', '--version', '1', '--key', key], /name the model's files/],
      // The binary must be what the bundle says: its ELF header (read, not run) and the version it reports.
      [['--arch', 'x64', '--key', key, '--binary', arm64, '--version', '1.0.0'], /is built for aarch64, not linux-x64/],
      [['--arch', 'x64', '--key', key, '--binary', text, '--version', '1.0.0'], /is not an ELF file, not linux-x64/],
      [
        ['--arch', 'x64', '--key', key, '--binary', binary, '--version', '1.0.0'],
        /could not check that .*bin is version 1\.0\.0 \(could not run it: .*\); pass --unchecked-version/,
      ],
    ];
    for (const [argv, message] of cases) {
      const result = await run('release', [...argv, '--out', dir]);
      expect(result.code, argv.join(' ')).toBe(2);
      expect(result.stderr, argv.join(' ')).toMatch(message);
      // The private key never reaches the terminal.
      expect(result.stderr).not.toContain(readJson(key).d);
    }
    expect(readdirSync(dir).sort()).toEqual(['arm64', 'bin', 'text']);
  });

  // The real compiled binary (npm run build:binary): what it reports about itself decides, not the flags.
  const built = join(ROOT, 'out/consystence-edge-linux-x64');
  it('refuses to sign the built binary as another version or as arm64, in one line, writing nothing', async (context) => {
    if (!existsSync(built) || process.arch !== 'x64') {
      console.log(
        'skipping the built-binary release checks: needs out/consystence-edge-linux-x64 on an x64 host (npm run build:binary)',
      );
      context.skip();
    }
    const dir = tempDir('cst-release-');
    const key = join(ROOT, 'keys/dev/release-signing.private.jwk');
    const { version } = JSON.parse((await runToEnd(built, ['version', '--json'])).stdout) as { version: string };
    const cases: Array<[string[], RegExp]> = [
      [['--arch', 'x64', '--version', '99.0.0'], new RegExp(`reports version ${version}, not 99\\.0\\.0`)],
      [['--arch', 'arm64', '--version', version], /is built for x86-64, not linux-arm64/],
    ];
    for (const [argv, message] of cases) {
      const result = await run('release', [...argv, '--key', key, '--binary', built, '--out', dir]);
      expect(result.code, argv.join(' ')).toBe(2);
      expect(result.stderr.trim().split('\n'), argv.join(' ')).toHaveLength(1);
      expect(result.stderr, argv.join(' ')).toMatch(message);
    }
    expect(readdirSync(dir)).toEqual([]);
  }, 120_000);
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
