/**
 * The offline licence file of an air-gapped site (`--licence-file`), checked once at start: a compact JWS signed
 * by one of the cloud's licence keys (`keys/licence-keys.json`, or `--licence-keys FILE`; ES256 and the header
 * `typ` pinned), naming this organisation, this site and this server's own signing key. Anything else stops the
 * server with a sentence saying why, before any edge could be told a key is licensed when it is not.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { calculateJwkThumbprint, decodeProtectedHeader, importJWK, jwtVerify, type JWK } from 'jose';
import { z } from 'zod';
import { readSecretFile } from '../../../common/secret-file/secret-file.js';
import {
  LICENCE_JWS_TYPE,
  LICENCE_SIGNING_ALGORITHM,
  MAX_LICENCE_FILE_CHARS,
  OfflineLicenceClaims,
  PublicJwk,
} from '../../../protocol/index.js';
import { SiteServerError } from '../errors.js';
import type { SigningKey } from './site-keys.js';

/** The cloud's licence keys as the repository ships them (what the device embeds too). */
export const DEFAULT_LICENCE_KEYS_PATH = fileURLToPath(new URL('../../../../keys/licence-keys.json', import.meta.url));

const LicenceKeys = z.object({
  keys: z
    .array(z.object({ kid: z.string().min(1).max(128), jwk: PublicJwk }))
    .min(1)
    .max(20),
});

export interface OfflineLicence {
  /** The file as given (the compact JWS), handed to edges with every site-issued token. */
  jws: string;
  claims: OfflineLicenceClaims;
  /** For fast membership checks at `register`. */
  keys: ReadonlySet<string>;
}

const refuse = (why: string) => new SiteServerError('LICENCE_FILE', `the offline licence file is refused: ${why}`);

function readLicenceKeys(path: string): z.infer<typeof LicenceKeys> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new SiteServerError('USAGE', `--licence-keys ${path}: cannot read it as JSON (${(error as Error).message})`);
  }
  const parsed = LicenceKeys.safeParse(json);
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

  let kid: string | undefined;
  try {
    kid = decodeProtectedHeader(jws).kid;
  } catch {
    throw refuse('it is not a signed licence (a compact JWS)');
  }
  const key = trusted.keys.find((k) => k.kid === kid);
  if (!key) throw refuse(`it is signed by key "${String(kid).slice(0, 64)}", which is not a cloud licence key`);
  let payload: unknown;
  try {
    ({ payload } = await jwtVerify(jws, await importJWK(key.jwk as JWK, LICENCE_SIGNING_ALGORITHM), {
      algorithms: [LICENCE_SIGNING_ALGORITHM],
      typ: LICENCE_JWS_TYPE,
    }));
  } catch (error) {
    throw refuse(
      `its signature does not verify with the cloud licence key ${kid} (${(error as { code?: string }).code ?? 'invalid'})`,
    );
  }
  const claims = OfflineLicenceClaims.safeParse(payload);
  if (!claims.success) throw refuse(`its claims are malformed (${claims.error.issues[0]?.path.join('.')})`);
  if (claims.data.org !== expected.orgId)
    throw refuse(`it is for organisation ${claims.data.org}, not ${expected.orgId}`);
  if (claims.data.site !== expected.siteId) throw refuse(`it is for site ${claims.data.site}, not ${expected.siteId}`);
  const named = await calculateJwkThumbprint(claims.data.siteServerKey as JWK);
  const ours = await calculateJwkThumbprint(expected.signingKey.publicJwk as JWK);
  if (named !== ours || claims.data.siteServerKey.kid !== expected.signingKey.kid)
    throw refuse(
      "it names another site server key than this server's (export it again after this server registered, with this --db)",
    );
  return { jws, claims: claims.data, keys: new Set(claims.data.licences) };
}
