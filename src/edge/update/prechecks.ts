/**
 * What is checked before an update writes anything (issue 13): the release keys (a rotation document riding
 * with the offer is applied first), the manifest's signature by a trusted `kid`, the architecture, no downgrade
 * unless the campaign allows it, and free space for the download and the install with a margin.
 */
import { statfsSync } from 'node:fs';
import {
  compareVersions,
  type ReleaseManifest,
  ReleaseVerificationError,
  verifyReleaseManifest,
} from '../../protocol/release.js';
import { spaceMargin } from './installer.js';
import type { ReleaseKeyStore } from './trust/release-key-store.js';

/** A refusal with the failure code `P/update/state` reports. */
export class UpdateRefused extends Error {
  override readonly name = 'UpdateRefused';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The release arch of the machine this process runs on, or null for one no release is built for. */
export function machineArch(arch: string = process.arch): 'x64' | 'arm64' | null {
  return arch === 'x64' || arch === 'arm64' ? arch : null;
}

export interface SpaceReport {
  free: number;
  needed: number;
}

/** Free bytes (for an unprivileged user) and size of the file system holding `dir`. */
export function fileSystemSpace(dir: string): { free: number; total: number } {
  const s = statfsSync(dir);
  return { free: Number(s.bavail) * Number(s.bsize), total: Number(s.blocks) * Number(s.bsize) };
}

export function checkSpace(
  dir: string,
  needed: number,
  space: (dir: string) => { free: number; total: number } = fileSystemSpace,
): void {
  const { free } = space(dir);
  const withMargin = needed + spaceMargin(needed);
  if (free < withMargin)
    throw new UpdateRefused(
      'INSUFFICIENT_SPACE',
      `the update needs ${mib(withMargin)} free on the state folder's file system (${mib(needed)} plus a margin of ${mib(withMargin - needed)}) and ${mib(free)} is free`,
    );
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

export interface OfferCheck {
  manifestJws: string;
  releaseKeys?: string;
  allowDowngrade: boolean;
  runningVersion: string;
  arch: 'x64' | 'arm64' | null;
}

/**
 * A rotation document that cannot be applied (older than the one held, replayed by a cloud that forgot it moved on,
 * or not signed by a key trusted now) adds no trust, so it is passed over: the manifest is then judged by the keys
 * trusted now, and a release that needed the document's keys is refused by its own signature. Failing the whole
 * offer on it instead left every campaign failing until the cloud was fixed (outside tester).
 */
async function applyRotationIfValid(jws: string, keys: ReleaseKeyStore): Promise<void> {
  try {
    await keys.applyRotation(jws);
  } catch (error) {
    if (!(error instanceof ReleaseVerificationError)) throw error;
  }
}

/** Applies a rotation document and verifies the manifest; throws `UpdateRefused` with the code to report. */
export async function verifyOffer(offer: OfferCheck, keys: ReleaseKeyStore): Promise<ReleaseManifest> {
  try {
    if (offer.releaseKeys) await applyRotationIfValid(offer.releaseKeys, keys);
    const { manifest } = await verifyReleaseManifest(offer.manifestJws, keys.trustedKeys().keys);
    checkManifestFits(manifest, offer);
    return manifest;
  } catch (error) {
    if (error instanceof ReleaseVerificationError) throw new UpdateRefused(error.code, error.message);
    throw error;
  }
}

export function checkManifestFits(manifest: ReleaseManifest, offer: Omit<OfferCheck, 'manifestJws'>): void {
  if (manifest.arch !== 'any' && manifest.arch !== offer.arch)
    throw new UpdateRefused(
      'WRONG_ARCH',
      `the release is for ${manifest.arch} and this device is ${offer.arch ?? process.arch}`,
    );
  if (
    manifest.kind === 'runtime' &&
    !offer.allowDowngrade &&
    compareVersions(manifest.version, offer.runningVersion) <= 0
  )
    throw new UpdateRefused(
      'DOWNGRADE',
      `version ${manifest.version} is not newer than the running ${offer.runningVersion} and the update does not allow a downgrade`,
    );
}
