/** Bundle files on disk: written, read and verified; every bad file is a clear error that names the problem. */
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_MANIFEST_JWS_BYTES } from '../../../src/protocol/release.js';
import { hashArtifact, readBundle, verifyBundle, writeBundle } from '../../../src/protocol/release-bundle.js';
import {
  makeReleaseKey,
  runtimeManifest,
  sha256,
  signManifest,
  type TestReleaseKey,
  writeTestBundle,
} from '../../helpers/release.js';
import { tempDir } from '../../helpers/tmp.js';

const artifact = Buffer.from('the artifact, gzip in real life\n'.repeat(1000));
let key: TestReleaseKey;
let dir: string;

beforeAll(async () => {
  key = await makeReleaseKey('k1');
  dir = tempDir('cst-bundle-');
});

describe('a good bundle', () => {
  it('is read back (manifest line, artifact offset and size) and verifies', async () => {
    const path = await writeTestBundle(dir, key, artifact, runtimeManifest(artifact), 'good.bundle');
    const layout = await readBundle(path);
    expect(layout.artifactSize).toBe(artifact.length);
    expect(layout.artifactOffset + layout.artifactSize).toBe(statSync(path).size);
    expect(await hashArtifact(path, layout.artifactOffset)).toEqual({
      sha256: sha256(artifact),
      size: artifact.length,
    });
    const verified = await verifyBundle(path, [key.trusted]);
    expect(verified.manifest.version).toBe('1.2.3');
    expect(verified.kid).toBe('k1');
    expect(statSync(path).mode & 0o777).toBe(0o644);
  });

  it('is never written over an existing file or through a link', async () => {
    const jws = await signManifest(key, runtimeManifest(artifact));
    const path = join(dir, 'exists.bundle');
    writeFileSync(path, 'keep me');
    await expect(writeBundle(path, jws, artifact)).rejects.toThrow(/already exists/);
    symlinkSync(join(dir, 'elsewhere'), join(dir, 'link.bundle'));
    await expect(writeBundle(join(dir, 'link.bundle'), jws, artifact)).rejects.toThrow(/already exists/);
    expect(existsSync(join(dir, 'elsewhere'))).toBe(false);
    await expect(writeBundle(join(dir, 'empty.bundle'), jws, Buffer.alloc(0))).rejects.toThrow(/artifact is empty/);
    await expect(writeBundle(join(dir, 'x.bundle'), 'not a jws', artifact)).rejects.toThrow(/not a compact JWS/);
  });
});

describe('a bad file', () => {
  const bad = (name: string, content: Buffer | string) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  it('without a newline in the first MAX_MANIFEST_JWS_BYTES bytes is not a bundle', async () => {
    const path = bad('long.bundle', Buffer.alloc(MAX_MANIFEST_JWS_BYTES + 10, 0x41));
    await expect(readBundle(path)).rejects.toThrow(/no manifest line within its first 16384 bytes/);
  });

  it('whose first line is not a compact JWS, or that has no artifact, is refused', async () => {
    await expect(readBundle(bad('text.bundle', 'hello world\nxxxx'))).rejects.toThrow(/not a compact JWS/);
    const jws = await signManifest(key, runtimeManifest(artifact));
    await expect(readBundle(bad('cut.bundle', `${jws}\n`))).rejects.toThrow(/no artifact/);
    await expect(readBundle(bad('empty.bundle', ''))).rejects.toThrow(/no manifest line/);
  });

  it('cut short or grown (size mismatch), or altered (sha256) fails verification', async () => {
    const cut = await writeTestBundle(dir, key, artifact, runtimeManifest(artifact), 'short.bundle');
    truncateSync(cut, statSync(cut).size - 1);
    await expect(verifyBundle(cut, [key.trusted])).rejects.toThrow(/has 31999 bytes, the manifest says 32000/);
    const grown = await writeTestBundle(dir, key, artifact, runtimeManifest(artifact), 'grown.bundle');
    appendFileSync(grown, 'x');
    await expect(verifyBundle(grown, [key.trusted])).rejects.toThrow(/the manifest says/);
    const altered = await writeTestBundle(dir, key, artifact, runtimeManifest(artifact), 'altered.bundle');
    execFileSync(
      'dd',
      ['if=/dev/zero', `of=${altered}`, 'bs=1', 'count=1', `seek=${statSync(altered).size - 5}`, 'conv=notrunc'],
      {
        stdio: 'ignore',
      },
    );
    await expect(verifyBundle(altered, [key.trusted])).rejects.toThrow(/does not match the sha256/);
  });

  it('signed by an unknown key fails with BAD_SIGNATURE before its artifact is read', async () => {
    const stranger = await makeReleaseKey('stranger');
    const path = await writeTestBundle(dir, stranger, artifact, runtimeManifest(artifact), 'stranger.bundle');
    await expect(verifyBundle(path, [key.trusted])).rejects.toMatchObject({ code: 'BAD_SIGNATURE' });
  });

  it('reached through a symbolic link, a folder or a FIFO is refused without reading it', async () => {
    const good = await writeTestBundle(dir, key, artifact, runtimeManifest(artifact), 'target.bundle');
    symlinkSync(good, join(dir, 'via-link.bundle'));
    await expect(readBundle(join(dir, 'via-link.bundle'))).rejects.toThrow(/is a symbolic link/);
    await expect(readBundle(dir)).rejects.toThrow(/not a regular file/);
    execFileSync('mkfifo', [join(dir, 'fifo.bundle')]);
    await expect(readBundle(join(dir, 'fifo.bundle'))).rejects.toThrow(/not a regular file/);
    await expect(readBundle(join(dir, 'missing.bundle'))).rejects.toThrow(/does not exist/);
  });
});
