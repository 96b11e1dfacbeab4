/**
 * The runtime installer: this binary, replaced by another version of itself (layout in state-files.ts).
 *
 * Order, each step durable before the next, so a power cut anywhere boots the old version or the new, whole:
 * 1. the binary is unpacked to a temporary name, fsynced, made executable and renamed into
 *    `releases/<version>/` (a half-written binary never has the name the launcher runs);
 * 2. identity.db is copied with `VACUUM INTO` to `update/snapshot/` (the new version may migrate it; an old
 *    binary refuses a newer schema, so a rollback must bring the old file back);
 * 3. `previous` points at the running version (or `factory`), then `update/trial` is written, then `current`
 *    is swapped to the new version: the launcher starts the new binary only once the trial record exists.
 * The outbox is never snapshotted: it is the data, and a rollback must not lose what the trial accepted.
 */
import { constants } from 'node:fs';
import { chmod, open, readdir, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { openArtifactStream } from '../../protocol/release-bundle.js';
import type { ReleaseManifest } from '../../protocol/release.js';
import { type Db, writeFileAtomic } from '../../storage/index.js';
import { ensureSpace, type Installer, type InstallJob } from './installer.js';
import {
  ensureDir,
  FACTORY,
  fsyncDir,
  linkTarget,
  removeIfPresent,
  swapLink,
  type UpdatePaths,
  writeTrial,
} from './state-files.js';

export const BINARY_NAME = 'consystence-edge';

export interface RuntimeInstallerOptions {
  paths: UpdatePaths;
  /** identity.db, copied into the snapshot. */
  db: Db;
  /** The trial window the new version must hold online (config `update.trialSeconds`). */
  trialSeconds: () => number;
}

/** Stops a gzip bomb: more bytes than the manifest's `installedSize` is a damaged or hostile artifact. */
function capAt(limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > limit) done(new Error(`the artifact unpacks to more than the ${limit} bytes its manifest says`));
      else done(null, chunk);
    },
  });
}

export class RuntimeInstaller implements Installer {
  readonly kind = 'runtime' as const;
  readonly needsRestart = true;
  constructor(private readonly options: RuntimeInstallerOptions) {}

  /** The binary (identity.db's snapshot beside it is small: keys, tokens, config). */
  async checkSpace(manifest: ReleaseManifest): Promise<void> {
    await ensureSpace(this.options.paths.stateDir, manifest.installedSize);
  }

  async install({ manifest, manifestJws }: InstallJob, artifactPath: string, artifactOffset = 0): Promise<void> {
    const { paths } = this.options;
    const dir = paths.release(manifest.version);
    ensureDir(paths.releases);
    ensureDir(dir);
    await this.unpack(artifactPath, artifactOffset, manifest, dir);
    if (manifestJws) writeFileAtomic(join(dir, 'manifest.jws'), manifestJws);
    this.snapshotIdentity();
    // Already switched (this step is being repeated): `previous` already names the version to go back to.
    if (linkTarget(paths.current) !== manifest.version) {
      swapLink(paths.previous, linkTarget(paths.current) ?? FACTORY);
      writeTrial(paths, {
        version: manifest.version,
        previous: linkTarget(paths.previous) ?? FACTORY,
        windowS: this.options.trialSeconds(),
      });
      swapLink(paths.current, manifest.version);
    }
  }

  private async unpack(path: string, offset: number, manifest: ReleaseManifest, dir: string): Promise<void> {
    const temp = join(dir, `.${BINARY_NAME}.tmp`);
    await rm(temp, { force: true });
    const source = await openArtifactStream(path, offset);
    const handle = await open(
      temp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o700,
    );
    try {
      // The stream closes the handle when it ends; fsync works on the file, so a second descriptor does it.
      await pipeline(source, createGunzip(), capAt(manifest.installedSize), handle.createWriteStream());
      await fsyncFile(temp);
      await chmod(temp, 0o755);
      await rename(temp, join(dir, BINARY_NAME));
      fsyncDir(dir);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
  }

  private snapshotIdentity(): void {
    const { paths, db } = this.options;
    ensureDir(paths.update);
    ensureDir(paths.snapshotDir);
    removeIfPresent(paths.snapshot);
    // VACUUM INTO writes a consistent copy without blocking writers for long; the folder is 0700 (it holds keys).
    db.exec(`VACUUM INTO '${paths.snapshot.replaceAll("'", "''")}'`);
    fsyncDir(paths.snapshotDir);
  }

  /** The trial held: its record becomes `last-trial`, the snapshot goes, and only `current` and `previous` stay. */
  async commit({ manifest: { version } }: InstallJob): Promise<void> {
    const { paths } = this.options;
    await rename(paths.trial, paths.lastTrial).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    removeIfPresent(paths.snapshot);
    // The launcher's start count belongs to this trial: a later trial of the same version starts from zero.
    removeIfPresent(paths.trialStarts);
    const keep = new Set([version, linkTarget(paths.previous), 'current', 'previous']);
    for (const entry of await readdir(paths.releases).catch(() => [] as string[]))
      if (!keep.has(entry) && !entry.endsWith('.new'))
        await rm(join(paths.releases, entry), { recursive: true, force: true });
    fsyncDir(paths.update);
  }
}

async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
