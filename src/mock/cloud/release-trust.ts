/**
 * The release keys the mock cloud verifies uploads with: the set built into every binary (`keys/release-keys.json`,
 * the development key unless a build swaps it) plus the keys of `--release-keys FILE`, which has the same shape
 * (`{"sequence":0,"keys":[{kid,jwk}]}`). Production clouds trust exactly what their devices trust, so an upload
 * the cloud accepts is one the devices will accept too. With a key-rotation document (`--release-rotation FILE`,
 * made by `release:rotate`), the cloud hands it to every site server with each campaign (`releaseKeys`), devices
 * apply it before they verify the manifest, and so the cloud then trusts exactly the rotated set. The newest document
 * is kept in the cloud's database: a restart without the flag keeps sending it, and one with an older document (a
 * lower sequence, or another document with the same sequence) is refused, as devices would pass it over.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { TrustedReleaseKey, verifyReleaseKeys } from '../../protocol/index.js';
import type { Db } from '../../storage/index.js';
import { heldRotation, holdRotation } from './store/release-rotation.js';

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

/**
 * The trusted keys, after the rotation document given or else the one held from an earlier start (verified here: a
 * bad or older one stops the start). A newer document given is held from now on.
 */
export async function releaseTrust(
  db: Db,
  at: string,
  extra: readonly TrustedReleaseKey[] = [],
  given: string | undefined = undefined,
): Promise<ReleaseTrust> {
  const keys = trustedReleaseKeys(extra);
  const held = heldRotation(db);
  const rotation = given ?? held?.document;
  if (rotation === undefined) return { keys };
  const document = await verifyReleaseKeys(rotation, keys, 0);
  if (held && rotation !== held.document && document.sequence <= held.sequence)
    throw new Error(
      `the key-rotation document (--release-rotation) has sequence ${document.sequence}, but this cloud already handed out sequence ${held.sequence}: devices pass an older one over. Give the newest rotation document, or leave the flag out to keep the one held`,
    );
  if (!held || document.sequence > held.sequence)
    holdRotation(db, { sequence: document.sequence, document: rotation }, at);
  return { keys: document.keys, rotation };
}
