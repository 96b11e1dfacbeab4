/**
 * The cloud's licence signing key: it signs offline licence files and nothing else, so a site server or a device
 * trusting it for licences trusts no token with it. It is long-lived and its public half is built into the device
 * (`keys/licence-keys.json`), unlike the token key the cloud generates per database. The mock uses the committed
 * development pair unless `--licence-key-file` names another private JWK.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { importJWK, SignJWT, type CryptoKey } from 'jose';
import { z } from 'zod';
import { LICENCE_JWS_TYPE, LICENCE_SIGNING_ALGORITHM, type OfflineLicenceClaims } from '../../protocol/index.js';

/** Development only: its private half is public in this repository. */
export const DEV_LICENCE_SIGNING_KEY_PATH = fileURLToPath(
  new URL('../../../keys/dev/licence-signing.private.jwk', import.meta.url),
);

const base64url = z.string().regex(/^[A-Za-z0-9_-]{43}$/);
/** A private EC P-256 JWK with the `kid` the device's key list names it by. */
export const LicenceSigningJwk = z.object({
  kty: z.literal('EC'),
  crv: z.literal('P-256'),
  x: base64url,
  y: base64url,
  d: base64url,
  kid: z.string().min(1).max(128),
});
export type LicenceSigningJwk = z.infer<typeof LicenceSigningJwk>;

export interface LicenceSigner {
  kid: string;
  sign(claims: OfflineLicenceClaims): Promise<string>;
}

export function readDevLicenceSigningJwk(): LicenceSigningJwk {
  return LicenceSigningJwk.parse(JSON.parse(readFileSync(DEV_LICENCE_SIGNING_KEY_PATH, 'utf8')));
}

export async function createLicenceSigner(jwk: LicenceSigningJwk): Promise<LicenceSigner> {
  const privateKey = (await importJWK(jwk, LICENCE_SIGNING_ALGORITHM)) as CryptoKey;
  return {
    kid: jwk.kid,
    sign: (claims) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: LICENCE_SIGNING_ALGORITHM, typ: LICENCE_JWS_TYPE, kid: jwk.kid })
        .sign(privateKey),
  };
}
