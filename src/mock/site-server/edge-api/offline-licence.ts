/**
 * The offline licence file of an air-gapped site (`--licence-file`), checked once at start: a compact JWS signed
 * by one of the cloud's licence keys (`keys/licence-keys.json`, or `--licence-keys FILE`; ES256 and the header
 * `typ` pinned), naming this organisation, this site and this server's own signing key. Anything else stops the
 * server with a sentence saying why, before any edge could be told a key is licensed when it is not.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { readSecretFile } from '../../../common/secret-file/secret-file.js';
import {
  LicenceKeyList,
  LicenceVerificationError,
  licenceKeySet,
  licenceMismatches,
  MAX_LICENCE_FILE_CHARS,
  type OfflineLicenceClaims,
  verifyLicenceFile,
} from '../../../protocol/index.js';
import { SiteServerError } from '../errors.js';
import type { SigningKey } from './site-keys.js';

/** The cloud's licence keys as the repository ships them (what the device embeds too). */
export const DEFAULT_LICENCE_KEYS_PATH = fileURLToPath(new URL('../../../../keys/licence-keys.json', import.meta.url));

export interface OfflineLicence {
  /** The file as given (the compact JWS), handed to edges with every site-issued token. */
  jws: string;
  claims: OfflineLicenceClaims;
  /** `licenceHash(site, key)` of each key the site may activate, for fast membership checks at `register`. */
  licenceHashes: ReadonlySet<string>;
}

const refuse = (why: string) => new SiteServerError('LICENCE_FILE', `the offline licence file is refused: ${why}`);

function readLicenceKeys(path: string): LicenceKeyList {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new SiteServerError(
      'USAGE',
      `--licence-keys ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the file: a wrong file may be a secret, so name only the flag and path.
    throw new SiteServerError('USAGE', `--licence-keys ${path}: not JSON`);
  }
  const parsed = LicenceKeyList.safeParse(json);
  if (!parsed.success)
    throw new SiteServerError('USAGE', `--licence-keys ${path}: not a licence key list ({"keys":[{kid, jwk}]})`);
  return parsed.data;
}

export async function loadOfflineLicence(
  files: { licenceFile: string; licenceKeys?: string | undefined },
  expected: { orgId: string; siteId: string; signingKey: SigningKey },
): Promise<OfflineLicence> {
  let jws: string;
  try {
    jws = readSecretFile(files.licenceFile, '--licence-file', { maxBytes: MAX_LICENCE_FILE_CHARS, followLinks: true });
  } catch (error) {
    throw new SiteServerError('USAGE', (error as Error).message);
  }
  const trusted = readLicenceKeys(files.licenceKeys ?? DEFAULT_LICENCE_KEYS_PATH);

  let claims: OfflineLicenceClaims;
  try {
    claims = await verifyLicenceFile(jws, licenceKeySet(trusted));
  } catch (error) {
    if (error instanceof LicenceVerificationError) throw refuse(error.message);
    throw error;
  }
  const [mismatch] = licenceMismatches(claims, expected);
  if (mismatch === 'organisation') throw refuse(`it is for organisation ${claims.org}, not ${expected.orgId}`);
  if (mismatch === 'site') throw refuse(`it is for site ${claims.site}, not ${expected.siteId}`);
  const named = await calculateJwkThumbprint(claims.siteServerKey as JWK);
  const ours = await calculateJwkThumbprint(expected.signingKey.publicJwk as JWK);
  if (named !== ours || claims.siteServerKey.kid !== expected.signingKey.kid)
    throw refuse(
      "it names another site server key than this server's (export it again after this server registered, with this --db)",
    );
  return { jws, claims, licenceHashes: new Set(claims.licenceHashes) };
}
