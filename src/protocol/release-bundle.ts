/**
 * Bundle files (layout in `release.ts`): one line holding the manifest JWS, `\n`, then the artifact. The cloud
 * reads them on upload, the site server when it fetches one, the device for `update install --file`; each opens
 * the file itself without following a link and refuses anything but a regular file, since a bundle comes from
 * outside (a USB stick, an upload) and the reader may run as root.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import {
  MAX_MANIFEST_JWS_BYTES,
  type ReleaseManifest,
  type TrustedReleaseKey,
  verifyReleaseManifest,
} from './release.js';

export class BundleError extends Error {
  override readonly name = 'BundleError';
}

export interface BundleLayout {
  /** The first line: the manifest as a compact JWS (not yet verified). */
  manifestJws: string;
  /** Where the artifact starts (the byte after the newline) and how many bytes it has, as the file is now. */
  artifactOffset: number;
  artifactSize: number;
}

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Opens `path` for reading only if it is a regular file reached without a symbolic link (no FIFO can stall it). */
async function openRegularFile(path: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new BundleError(
      code === 'ELOOP'
        ? `${path} is a symbolic link; give the bundle file itself`
        : code === 'ENOENT'
          ? `${path} does not exist`
          : `cannot read ${path} (${code})`,
    );
  }
  if (!(await handle.stat()).isFile()) {
    await handle.close();
    throw new BundleError(`${path} is not a regular file`);
  }
  return handle;
}

/**
 * Reads the manifest line of a bundle (at most `MAX_MANIFEST_JWS_BYTES` of it) and where its artifact lies.
 * Verifies nothing cryptographic: use `verifyBundle` for that.
 */
export async function readBundle(path: string): Promise<BundleLayout> {
  const handle = await openRegularFile(path);
  try {
    const head = Buffer.alloc(MAX_MANIFEST_JWS_BYTES + 1);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const newline = head.subarray(0, bytesRead).indexOf(0x0a);
    if (newline < 0)
      throw new BundleError(
        `${path} is not a release bundle: no manifest line within its first ${MAX_MANIFEST_JWS_BYTES} bytes`,
      );
    const manifestJws = head.subarray(0, newline).toString('latin1');
    if (!COMPACT_JWS.test(manifestJws))
      throw new BundleError(`${path} is not a release bundle: its first line is not a compact JWS`);
    const artifactOffset = newline + 1;
    const artifactSize = (await handle.stat()).size - artifactOffset;
    if (artifactSize <= 0) throw new BundleError(`${path} holds a manifest but no artifact (the file is cut short)`);
    return { manifestJws, artifactOffset, artifactSize };
  } finally {
    await handle.close();
  }
}

/** The artifact of a bundle (or a bare artifact file, offset 0) as a stream, opened as `readBundle` opens it. */
export async function openArtifactStream(path: string, offset = 0): Promise<Readable> {
  const handle = await openRegularFile(path);
  // The stream owns the handle and closes it at its end, on error or when destroyed.
  return handle.createReadStream({ start: offset, autoClose: true });
}

/** SHA-256 and length of a file from `offset` to its end, streamed (artifacts may be hundreds of MiB). */
export async function hashArtifact(path: string, offset = 0): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of await openArtifactStream(path, offset)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

const sizeMismatch = (size: number, manifest: ReleaseManifest) =>
  new BundleError(`the artifact has ${size} bytes, the manifest says ${manifest.size}: the file is damaged`);

/** Artifact bytes against the manifest: size and the streamed sha256. */
export async function checkArtifact(path: string, offset: number, manifest: ReleaseManifest): Promise<void> {
  const { sha256, size } = await hashArtifact(path, offset);
  if (size !== manifest.size) throw sizeMismatch(size, manifest);
  if (sha256 !== manifest.sha256)
    throw new BundleError('the artifact does not match the sha256 in its manifest: the file is damaged or altered');
}

/**
 * Reads and verifies a whole bundle: manifest signed by a trusted key (`ReleaseVerificationError` otherwise), then
 * the artifact's size and sha256 (`BundleError`).
 */
export async function verifyBundle(
  path: string,
  trusted: readonly TrustedReleaseKey[],
): Promise<BundleLayout & { manifest: ReleaseManifest; kid: string }> {
  const layout = await readBundle(path);
  const { manifest, kid } = await verifyReleaseManifest(layout.manifestJws, trusted);
  // The size first: a cut-short file is told as such without hashing hundreds of MiB.
  if (layout.artifactSize !== manifest.size) throw sizeMismatch(layout.artifactSize, manifest);
  await checkArtifact(path, layout.artifactOffset, manifest);
  return { ...layout, manifest, kid };
}

/**
 * Writes a new bundle file: created exclusively (never over an existing file or through a link), readable by
 * all (a bundle holds no secret: it is signed, not encrypted), fsynced. A failure removes the partial file.
 */
export async function writeBundle(path: string, manifestJws: string, artifact: Uint8Array): Promise<void> {
  if (!COMPACT_JWS.test(manifestJws) || manifestJws.length > MAX_MANIFEST_JWS_BYTES)
    throw new BundleError(`the manifest is not a compact JWS of at most ${MAX_MANIFEST_JWS_BYTES} bytes`);
  if (artifact.length === 0) throw new BundleError('the artifact is empty');
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new BundleError(
      code === 'EEXIST'
        ? `${path} already exists; a bundle never overwrites a file`
        : `cannot create ${path} (${code})`,
    );
  }
  try {
    await handle.writeFile(Buffer.concat([Buffer.from(`${manifestJws}\n`, 'latin1'), artifact]));
    await handle.sync();
    await handle.close();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw new BundleError(
      `cannot write ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
}
