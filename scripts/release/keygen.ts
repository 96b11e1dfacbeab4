/**
 * `npm run release:keygen -- --out DIR [--kid NAME]`: makes a release signing key pair (ES256, P-256).
 *
 * Writes, never over an existing file:
 *   DIR/release-signing.private.jwk   the private key with its kid (0600): keep it offline
 *   DIR/release-signing.public.json   `{kid, jwk}`: give it to `release:rotate --keys`
 *   DIR/release-keys.json             `{sequence:0, keys:[{kid, jwk}]}`: a first trusted set for
 *                                     `build-binary --release-keys` and the mocks' `--release-keys`
 * The kid defaults to `release-` and the first 16 characters of the key's RFC 7638 thumbprint.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { RELEASE_SIGNING_ALGORITHM, TrustedReleaseKey, TrustedReleaseKeySet } from '../../src/protocol/release.js';
import { parseFlags, PrivateReleaseJwk, publicHalf, runMain, UsageError, writeNewFile } from './lib.js';

const USAGE = 'usage: npm run release:keygen -- --out DIR [--kid NAME]';

runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), { out: '', kid: '' }, USAGE);
  if (!flags.out) throw new UsageError(`--out DIR is required\n${USAGE}`);
  if (flags.kid && !TrustedReleaseKey.shape.kid.safeParse(flags.kid).success)
    throw new UsageError(
      `--kid must be 1–128 letters, digits, dots, dashes or underscores (got ${JSON.stringify(flags.kid)})`,
    );
  const out = resolve(flags.out);
  const files = {
    private: join(out, 'release-signing.private.jwk'),
    public: join(out, 'release-signing.public.json'),
    set: join(out, 'release-keys.json'),
  };
  // All three or none: a half-written key pair (a private key with no public half) only confuses.
  for (const file of Object.values(files))
    if (existsSync(file)) throw new UsageError(`${file} already exists; a key is never overwritten`);
  mkdirSync(out, { recursive: true, mode: 0o700 });

  const { privateKey, publicKey } = await generateKeyPair(RELEASE_SIGNING_ALGORITHM, { extractable: true });
  const { kty, crv, x, y } = await exportJWK(publicKey);
  const jwk = { kty, crv, x, y };
  const kid = flags.kid || `release-${(await calculateJwkThumbprint(jwk)).slice(0, 16)}`;
  const privateJwk = PrivateReleaseJwk.parse({ ...jwk, d: (await exportJWK(privateKey)).d, kid });
  const publicKeyEntry = TrustedReleaseKey.parse(publicHalf(privateJwk));

  // The private key first: if it cannot be written, no public half exists that nothing can sign for.
  writeNewFile(files.private, `${JSON.stringify(privateJwk, null, 2)}\n`, 0o600);
  writeNewFile(files.public, `${JSON.stringify(publicKeyEntry, null, 2)}\n`, 0o644);
  const set = TrustedReleaseKeySet.parse({ sequence: 0, keys: [publicKeyEntry] });
  writeNewFile(files.set, `${JSON.stringify(set, null, 2)}\n`, 0o644);
  console.log(
    `release key ${kid}:\n  private ${files.private} (keep offline)\n  public  ${files.public}\n  set     ${files.set}`,
  );
});
