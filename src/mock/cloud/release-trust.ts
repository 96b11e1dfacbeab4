/**
 * The release keys the mock cloud verifies uploads with: the set built into every binary (`keys/release-keys.json`,
 * the development key unless a build swaps it) plus the keys of `--release-keys FILE`, which has the same shape
 * (`{"sequence":0,"keys":[{kid,jwk}]}`). Production clouds trust exactly what their devices trust, so an upload
 * the cloud accepts is one the devices will accept too.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { TrustedReleaseKey } from '../../protocol/index.js';

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
