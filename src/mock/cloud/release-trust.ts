/**
 * The release keys the mock cloud verifies uploads with: the set built into every binary (`keys/release-keys.json`,
 * the development key unless a build swaps it) plus the keys of `--release-keys FILE`, which has the same shape
 * (`{"sequence":0,"keys":[{kid,jwk}]}`). Production clouds trust exactly what their devices trust, so an upload
 * the cloud accepts is one the devices will accept too. With a key-rotation document (`--release-rotation FILE`,
 * made by `release:rotate`), the cloud hands it to every site server with each campaign (`releaseKeys`), devices
 * apply it before they verify the manifest, and so the cloud then trusts exactly the rotated set.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { TrustedReleaseKey, verifyReleaseKeys } from '../../protocol/index.js';

export const ReleaseKeySetFile = z.object({
  sequence: z.number().int().min(0),
  keys: z.array(TrustedReleaseKey).min(1).max(8),
});

const BUILT_IN_KEYS_FILE = new URL('../../../keys/release-keys.json', import.meta.url);

/** The built-in set, or none while the repository has no `keys/release-keys.json` yet. */
export function builtInReleaseKeys(): TrustedReleaseKey[] {
  let text: string;
  try {
    text = readFileSync(BUILT_IN_KEYS_FILE, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return ReleaseKeySetFile.parse(JSON.parse(text)).keys;
}

/** The built-in keys plus `extra`; a kid in both keeps the built-in key (a file cannot replace a trusted key). */
export function trustedReleaseKeys(extra: readonly TrustedReleaseKey[] = []): TrustedReleaseKey[] {
  const builtIn = builtInReleaseKeys();
  return [...builtIn, ...extra.filter((key) => !builtIn.some((k) => k.kid === key.kid))];
}

export interface ReleaseTrust {
  keys: readonly TrustedReleaseKey[];
  /** The key-rotation document (compact JWS) sent with every campaign, when one is configured. */
  rotation?: string;
}

/** The trusted keys, after the rotation document if one is given (verified here: a bad one stops the start). */
export async function releaseTrust(
  extra: readonly TrustedReleaseKey[] = [],
  rotation: string | undefined = undefined,
): Promise<ReleaseTrust> {
  const keys = trustedReleaseKeys(extra);
  if (rotation === undefined) return { keys };
  const document = await verifyReleaseKeys(rotation, keys, 0);
  return { keys: document.keys, rotation };
}
