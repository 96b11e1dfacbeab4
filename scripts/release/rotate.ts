/**
 * `npm run release:rotate -- --key CURRENT_PRIVATE --sequence N --keys PUB1.json[,PUB2.json…] --out FILE`
 *
 * Writes a key-rotation document (src/protocol/release.ts, `ReleaseKeysDocument`): the complete new trusted set,
 * signed with a key devices trust now. A key left out of `--keys` is revoked once a device applies it. `--sequence`
 * must be above every document issued before (devices refuse one that is not newer than theirs). Each public key
 * file is `{kid, jwk}` as `release:keygen` writes it. The output is the compact JWS and a newline, never written
 * over an existing file.
 */
import { resolve } from 'node:path';
import {
  RELEASE_KEYS_JWS_TYPE,
  ReleaseKeysDocument,
  TrustedReleaseKey,
  verifyReleaseKeys,
} from '../../src/protocol/release.js';
import {
  parseFlags,
  publicHalf,
  readJsonFlag,
  readPrivateKey,
  runMain,
  signJws,
  sourceDateTime,
  UsageError,
  writeNewFile,
} from './lib.js';

const USAGE =
  'usage: npm run release:rotate -- --key CURRENT_PRIVATE --sequence N --keys PUB1.json,PUB2.json --out FILE';

runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), { key: '', sequence: '', keys: '', out: '' }, USAGE);
  for (const name of ['key', 'sequence', 'keys', 'out'] as const)
    if (!flags[name]) throw new UsageError(`--${name} is required\n${USAGE}`);
  if (!/^[1-9]\d{0,9}$/.test(flags.sequence) || Number(flags.sequence) > 2 ** 31)
    throw new UsageError(`--sequence must be a whole number from 1 to 2^31 (got ${JSON.stringify(flags.sequence)})`);
  const key = readPrivateKey(flags.key);
  const keys = flags.keys
    .split(',')
    .map((path) => readJsonFlag('keys', path.trim(), TrustedReleaseKey, 'a public release key {kid, jwk}'));
  const parsed = ReleaseKeysDocument.safeParse({
    typ: 'release-keys',
    sequence: Number(flags.sequence),
    keys,
    issuedAt: sourceDateTime(),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`the key set is not valid: ${issue?.path.join('.')} ${issue?.message}`);
  }
  const jws = await signJws(key, RELEASE_KEYS_JWS_TYPE, parsed.data);
  // Check it as a device would (signed by a key of the current set, newer than sequence N - 1).
  await verifyReleaseKeys(jws, [publicHalf(key)], parsed.data.sequence - 1);
  const out = resolve(flags.out);
  writeNewFile(out, `${jws}\n`, 0o644);
  const kept = parsed.data.keys.map((k) => k.kid).join(', ');
  console.log(
    `${out}\n  key-rotation document ${parsed.data.sequence}, signed by ${key.kid}; trusted after it: ${kept}`,
  );
  if (!parsed.data.keys.some((k) => k.kid === key.kid)) console.log(`  ${key.kid} is revoked by this document`);
});
