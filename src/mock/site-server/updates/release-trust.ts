/**
 * The release keys the site server checks bundles against before it serves them: the set built into the device
 * binary (`BUILT_IN_RELEASE_KEYS`, from `keys/release-keys.json`) plus `--release-keys FILE` (the same format,
 * `{"sequence":N,"keys":[{kid,jwk}]}`), so a rig can sign test releases with its own key. A campaign that carries
 * a key-rotation document is checked with the set that document installs, once it verifies against these keys,
 * as the device does.
 */
import { readFileSync } from 'node:fs';
import {
  TrustedReleaseKeySet,
  verifyReleaseKeys,
  verifyReleaseManifest,
  type ReleaseManifest,
  type TrustedReleaseKey,
} from '../../../protocol/index.js';
import { BUILT_IN_RELEASE_KEYS } from '../../../protocol/built-in-release-keys.js';
import { SiteServerError } from '../errors.js';

const MAX_KEYS_FILE_BYTES = 64 * 1024;

function readKeysFile(path: string): TrustedReleaseKeySet {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new SiteServerError(
      'USAGE',
      `cannot read --release-keys ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  if (text.length > MAX_KEYS_FILE_BYTES)
    throw new SiteServerError('USAGE', `--release-keys ${path} is larger than ${MAX_KEYS_FILE_BYTES} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // Never echo the file: JSON.parse's message quotes its first characters.
    throw new SiteServerError('USAGE', `--release-keys ${path} is not JSON`);
  }
  const parsed = TrustedReleaseKeySet.safeParse(json);
  if (!parsed.success)
    throw new SiteServerError(
      'USAGE',
      `--release-keys ${path} is not a release-keys file: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`,
    );
  return parsed.data;
}

export class ReleaseTrust {
  private constructor(
    readonly keys: readonly TrustedReleaseKey[],
    private readonly sequence: number,
  ) {}

  /** The built-in keys plus those of `extraFile`. */
  static load(extraFile: string | undefined): ReleaseTrust {
    const extra = extraFile ? readKeysFile(extraFile) : undefined;
    return new ReleaseTrust(
      [...BUILT_IN_RELEASE_KEYS.keys, ...(extra?.keys ?? [])],
      Math.max(BUILT_IN_RELEASE_KEYS.sequence, extra?.sequence ?? 0),
    );
  }

  /** Verifies a manifest (after a campaign's key-rotation document, if it has one); throws ReleaseVerificationError. */
  async verify(manifestJws: string, releaseKeysJws?: string): Promise<ReleaseManifest> {
    const keys = releaseKeysJws ? (await verifyReleaseKeys(releaseKeysJws, this.keys, this.sequence)).keys : this.keys;
    return (await verifyReleaseManifest(manifestJws, keys)).manifest;
  }
}
