/**
 * What the update engine asks of an installer (issue 13): one per release kind (`runtime`, `model`; a `rootfs`
 * installer for RAUC or nvbootctrl A/B slots can slot in later). The engine downloads and verifies the artifact
 * (signature, size, sha256) and then hands it to the installer of the manifest's kind.
 *
 * Every method must be safe to run again after a power cut at any instruction: the engine repeats the step the
 * job was in (see engine.ts).
 */
import { statfs } from 'node:fs/promises';
import type { ReleaseKind, ReleaseManifest } from '../../protocol/release.js';
import type { UpdateFailureCodes } from '../../protocol/updates.js';

export interface InstallJob {
  manifest: ReleaseManifest;
  /** The signed manifest, kept beside a runtime release so what runs can be checked again. */
  manifestJws?: string;
}

/** An install that failed with the reason the engine reports (`P/update/state` `reason.code`). */
export class InstallError extends Error {
  override readonly name = 'InstallError';
  constructor(
    readonly code: Extract<
      (typeof UpdateFailureCodes)[number],
      'INSUFFICIENT_SPACE' | 'INSTALL_FAILED' | 'HASH_MISMATCH'
    >,
    message: string,
  ) {
    super(message);
  }
}

export interface Installer {
  readonly kind: ReleaseKind;
  /** Runtime: the process exits for the service manager to start the new version. Models: false. */
  readonly needsRestart: boolean;
  /** Throws `InstallError('INSUFFICIENT_SPACE')` when the install would not fit; writes nothing. */
  checkSpace(manifest: ReleaseManifest): Promise<void>;
  /**
   * Installs the verified artifact at `artifactPath` from byte `artifactOffset` on (0 for a finished download, the
   * byte after the manifest line for a bundle file read in place).
   */
  install(job: InstallJob, artifactPath: string, artifactOffset?: number): Promise<void>;
  /** The installed version has proved itself: keep it, drop what is no longer needed. */
  commit(job: InstallJob): Promise<void>;
  /** Back to what was installed before, when the installer can do that itself. */
  rollback?(job: InstallJob): Promise<void>;
}

/** Space kept free beyond what an install needs: 64 MiB or 10 % of what it writes, whichever is more. */
export const spaceMargin = (bytes: number): number => Math.max(64 * 2 ** 20, Math.ceil(bytes * 0.1));

/** Refuses, before anything is written, an install of `bytes` into `dir` that would leave less than the margin. */
export async function ensureSpace(dir: string, bytes: number): Promise<void> {
  const stats = await statfs(dir);
  const free = stats.bavail * stats.bsize;
  const needed = bytes + spaceMargin(bytes);
  if (free < needed)
    throw new InstallError(
      'INSUFFICIENT_SPACE',
      `${dir} has ${Math.floor(free / 2 ** 20)} MiB free, the install needs ${Math.ceil(needed / 2 ** 20)} MiB (with margin)`,
    );
}
