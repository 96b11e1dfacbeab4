/**
 * The release keys built into this build: `keys/release-keys.json` (the committed development key) unless the
 * binary was built with `build-binary --release-keys FILE`, which swaps that file for another at bundling time and
 * defines `__CST_RELEASE_TRUST__` as `custom`. The device trusts these until a newer key-rotation document is
 * stored; the mock cloud and site server verify uploads and bundles with them (plus their `--release-keys`).
 */
import builtInSet from '../../keys/release-keys.json' with { type: 'json' };
import { TrustedReleaseKeySet } from './release.js';

declare const __CST_RELEASE_TRUST__: string | undefined;

/** Parsed at load: a build with a malformed set must fail at its first start, not at its first update. */
export const BUILT_IN_RELEASE_KEYS: TrustedReleaseKeySet = TrustedReleaseKeySet.parse(builtInSet);

/**
 * `development`: the committed key pair, whose private half is public in this repository, so anyone can sign a
 * release such a build accepts. `custom`: a set given at build time (production). Shown by `version`.
 */
export const RELEASE_TRUST: 'development' | 'custom' =
  typeof __CST_RELEASE_TRUST__ === 'string' && __CST_RELEASE_TRUST__ === 'custom' ? 'custom' : 'development';
