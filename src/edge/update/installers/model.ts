/**
 * Installs a `kind: "model"` release (issue 13): ML model files for the platform's inference, no restart.
 *
 *   $STATE/models/<name>/<version>/…              the files of one version, exactly those of its manifest
 *   $STATE/models/<name>/current  -> <version>    what consumers read (`models/<name>/current/<file>`)
 *   $STATE/models/<name>/previous -> <version>    the version before, kept for one install
 *   $STATE/models/<name>/.staging-<version>/      being unpacked; removed if found later
 *
 * The artifact (gzip of a ustar) is streamed into the staging folder. Every entry must be a regular file listed in
 * the manifest, with the listed size and sha256; links, devices, folders, pax headers, absolute or `..` paths,
 * unlisted or repeated files are refused, and so is a listed file that is missing. Only a complete, verified
 * folder is renamed to `<version>`; then `previous` and `current` are each replaced by rename(2) of a new link,
 * so a power cut leaves `current` on the old version or the new one, never on a mix. Versions other than those
 * two are pruned after the switch.
 */
import { createHash, type Hash } from 'node:crypto';
import {
  closeSync,
  constants,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { UstarReader, type TarHeader } from '../../../common/tar/ustar.js';
import { openArtifactStream } from '../../../protocol/release-bundle.js';
import type { ModelFile, ReleaseManifest } from '../../../protocol/release.js';
import { ensureSpace, InstallError, type Installer, type InstallJob } from '../installer.js';

export const MODELS_DIR = 'models';

/** Creates `path` as a folder if missing; refuses a link or anything else there (the CLI may run as root). */
function ensureRealDir(path: string): void {
  const stat = lstatSync(path, { throwIfNoEntry: false });
  if (!stat) mkdirSync(path, { mode: 0o755 });
  else if (!stat.isDirectory())
    throw new InstallError('INSTALL_FAILED', `${path} is not a folder (a link or a file is there); move it aside`);
}

function fsyncDir(path: string): void {
  const fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Points `link` at `target` (relative) by renaming a new link over it: atomic, whatever was there. */
function swapLink(folder: string, link: string, target: string): void {
  const temp = join(folder, `.${link}.new`);
  rmSync(temp, { force: true });
  symlinkSync(target, temp);
  renameSync(temp, join(folder, link));
}

const readLink = (path: string): string | undefined => {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
};

/** Why an entry may not be unpacked, or undefined when it is a listed regular file with the listed size. */
function refusal(header: TarHeader, listed: ModelFile | undefined, seen: Set<string>): string | undefined {
  const path = JSON.stringify(header.path.slice(0, 120));
  if (header.path.startsWith('/') || header.path.split('/').includes('..'))
    return `entry ${path} would be written outside the model folder`;
  if (header.type !== 'file')
    return `entry ${path} is a ${header.type === 'other' ? `type ${JSON.stringify(header.typeflag)} entry` : header.type}; a model holds regular files only`;
  if (!listed) return `entry ${path} is not listed in the signed manifest`;
  if (seen.has(header.path)) return `entry ${path} appears twice`;
  if (header.size !== listed.size) return `entry ${path} has ${header.size} bytes, the manifest lists ${listed.size}`;
  return undefined;
}

/** Streams the artifact into `staging`, verifying every entry as it is written. */
async function unpack(
  artifactPath: string,
  artifactOffset: number,
  manifest: ReleaseManifest,
  staging: string,
): Promise<void> {
  const files = new Map((manifest.files ?? []).map((f) => [f.path, f]));
  const seen = new Set<string>();
  let current: { fd: number; hash: Hash; file: ModelFile } | undefined;
  const fail = (message: string, code: InstallError['code'] = 'INSTALL_FAILED'): never => {
    throw new InstallError(code, message);
  };
  const reader = new UstarReader({
    entry(header) {
      const listed = files.get(header.path);
      const reason = refusal(header, listed, seen);
      if (reason) fail(`the model archive is refused: ${reason}`);
      seen.add(header.path);
      const target = join(staging, header.path);
      mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
      const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
      current = { fd: openSync(target, flags, 0o644), hash: createHash('sha256'), file: listed! };
    },
    data(chunk) {
      current!.hash.update(chunk);
      for (let offset = 0; offset < chunk.length; ) offset += writeSync(current!.fd, chunk, offset);
    },
    entryEnd() {
      const { fd, hash, file } = current!;
      current = undefined;
      fsyncSync(fd);
      closeSync(fd);
      if (hash.digest('hex') !== file.sha256)
        fail(`${file.path} does not match the sha256 in the manifest`, 'HASH_MISMATCH');
    },
  });
  // Headers and padding are at most a few blocks per file: anything beyond is not the archive that was signed.
  const limit = manifest.installedSize + 1024 * (files.size + 1) + 20_480;
  let unpacked = 0;
  let cause: unknown;
  const artifactHash = createHash('sha256');
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      artifactHash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeline(
      await openArtifactStream(artifactPath, artifactOffset),
      hashing,
      createGunzip(),
      async (tar: AsyncIterable<Buffer>) => {
        for await (const chunk of tar) {
          unpacked += chunk.length;
          try {
            if (unpacked > limit) fail('the model archive unpacks to more than its manifest says');
            reader.push(chunk);
          } catch (error) {
            // Kept: thrown inside the pipeline, it reaches the caller only as an abort of the streams.
            cause = error;
            throw error;
          }
        }
      },
    );
    reader.finish();
  } catch (error) {
    if (current) closeSync(current.fd);
    cause ??= error;
    if (cause instanceof InstallError) throw cause;
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT')
      throw new InstallError('INSUFFICIENT_SPACE', `the disk filled up while unpacking the model (${code})`);
    throw new InstallError('INSTALL_FAILED', `cannot unpack the model: ${(cause as Error).message}`);
  }
  if (artifactHash.digest('hex') !== manifest.sha256)
    fail('the model artifact does not match the sha256 in its manifest', 'HASH_MISMATCH');
  const missing = [...files.keys()].filter((path) => !seen.has(path));
  if (missing.length) fail(`the model archive lacks ${missing.length} listed file(s), e.g. ${missing[0]}`);
}

/** fsyncs every folder of a tree (files were fsynced as written), deepest first, so the rename publishes it whole. */
function fsyncTree(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true }))
    if (entry.isDirectory()) fsyncTree(join(dir, entry.name));
  fsyncDir(dir);
}

export class ModelInstaller implements Installer {
  readonly kind = 'model' as const;
  readonly needsRestart = false;

  constructor(private readonly stateDir: string) {}

  /** `$STATE/models/<name>`, created as real folders (never through a link). */
  private folderOf(manifest: ReleaseManifest): string {
    ensureRealDir(join(this.stateDir, MODELS_DIR));
    const folder = join(this.stateDir, MODELS_DIR, manifest.name);
    ensureRealDir(folder);
    return folder;
  }

  /** The version `current` points at, if any. */
  currentVersion(name: string): string | undefined {
    return readLink(join(this.stateDir, MODELS_DIR, name, 'current'));
  }

  async checkSpace(manifest: ReleaseManifest): Promise<void> {
    await ensureSpace(this.stateDir, manifest.installedSize);
  }

  async install(job: InstallJob, artifactPath: string, artifactOffset = 0): Promise<void> {
    const { manifest } = job;
    if (manifest.kind !== 'model') throw new InstallError('INSTALL_FAILED', `not a model release (${manifest.kind})`);
    const folder = this.folderOf(manifest);
    if (this.currentVersion(manifest.name) === manifest.version) return; // already installed: nothing to do
    // Leftovers of an install cut short (power cut, kill): never reused, since their content is unknown.
    for (const entry of readdirSync(folder))
      if (entry.startsWith('.staging-') || entry.endsWith('.new'))
        rmSync(join(folder, entry), { recursive: true, force: true });
    const staging = join(folder, `.staging-${manifest.version}`);
    mkdirSync(staging, { mode: 0o755 });
    try {
      await unpack(artifactPath, artifactOffset, manifest, staging);
      fsyncTree(staging);
      const versionDir = join(folder, manifest.version);
      // A complete folder of this version from an earlier, interrupted install is replaced, never trusted.
      rmSync(versionDir, { recursive: true, force: true });
      renameSync(staging, versionDir);
    } catch (error) {
      rmSync(staging, { recursive: true, force: true });
      throw error;
    }
    const before = this.currentVersion(manifest.name);
    // `previous` first: until `current` moves, both name the old version, so a cut here changes nothing.
    if (before) swapLink(folder, 'previous', before);
    swapLink(folder, 'current', manifest.version);
    fsyncDir(folder);
    await this.commit(job);
  }

  /** Prunes every version but `current` and `previous`. */
  async commit(job: InstallJob): Promise<void> {
    const folder = join(this.stateDir, MODELS_DIR, job.manifest.name);
    const keep = new Set([readLink(join(folder, 'current')), readLink(join(folder, 'previous'))]);
    for (const entry of readdirSync(folder, { withFileTypes: true }))
      if (entry.isDirectory() && !entry.name.startsWith('.') && !keep.has(entry.name))
        rmSync(join(folder, entry.name), { recursive: true, force: true });
  }

  /** Points `current` back at `previous` (models switch without a restart, so this is immediate). */
  async rollback(job: InstallJob): Promise<void> {
    const folder = join(this.stateDir, MODELS_DIR, job.manifest.name);
    const previous = readLink(join(folder, 'previous'));
    if (!previous)
      throw new InstallError('INSTALL_FAILED', `${job.manifest.name} has no previous version to go back to`);
    swapLink(folder, 'current', previous);
    fsyncDir(folder);
  }
}
