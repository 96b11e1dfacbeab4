/**
 * The site server's own keys, made on its first start and kept in its database (0600 like every state file):
 * the ES256 signing key whose public half goes to the cloud with register-server (offline licence files name
 * it; air-gapped edge tokens are signed with it), and the edge-facing listener's self-signed TLS identity when no
 * --tls-cert/--tls-key is given. Both stay the same across restarts, so the fingerprint a technician pinned and
 * the key a licence file names keep matching.
 */
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomUUID, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { importJWK, type CryptoKey, type JWK } from 'jose';
import { SiteSigningKey, type SiteFingerprint } from '../../../protocol/index.js';
import type { Db } from '../../../storage/index.js';
import { SiteServerError } from '../errors.js';

export interface SigningKey {
  kid: string;
  /** The public half, with `kid`, `alg` and `use`: what register-server sends as `signingKey`. */
  publicJwk: SiteSigningKey;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

export interface EdgeTlsIdentity {
  cert: string;
  key: string;
  fingerprint: SiteFingerprint;
  /** True when the certificate was generated here (self-signed), false for --tls-cert. */
  selfSigned: boolean;
}

interface SiteKeysRow {
  signing_jwk_json: string;
  tls_cert_pem: string | null;
  tls_key_pem: string | null;
}

const readRow = (db: Db) => db.prepare<SiteKeysRow>('SELECT * FROM site_keys WHERE id = 1').get();

/** The signing key, generated and saved in the same transaction as the first read finds none. */
export async function ensureSigningKey(db: Db): Promise<SigningKey> {
  const row =
    readRow(db) ??
    db.transaction(() => {
      const raced = readRow(db);
      if (raced) return raced;
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const jwk = { ...(privateKey.export({ format: 'jwk' }) as JWK), kid: `site-${randomUUID()}` };
      db.prepare('INSERT INTO site_keys (id, signing_jwk_json, created_at) VALUES (1, ?, ?)').run(
        JSON.stringify(jwk),
        new Date().toISOString(),
      );
      return readRow(db)!;
    });
  const jwk = JSON.parse(row.signing_jwk_json) as JWK & { kid: string };
  const { d: _private, ...publicHalf } = jwk;
  const publicJwk = SiteSigningKey.parse({ ...publicHalf, alg: 'ES256', use: 'sig' });
  return {
    kid: jwk.kid,
    publicJwk,
    privateKey: (await importJWK(jwk, 'ES256')) as CryptoKey,
    publicKey: (await importJWK(publicJwk as JWK, 'ES256')) as CryptoKey,
  };
}

/** `sha256:` and the hex SHA-256 of the certificate's SubjectPublicKeyInfo (DER), as `SiteFingerprint` defines. */
export function fingerprintOf(certPem: string): SiteFingerprint {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

/**
 * The edge listener's identity: the given certificate and key, or the self-signed one kept in the database,
 * made on the first start for the public host. Node cannot write a certificate, so that one time the `openssl`
 * CLI makes it, in a private temporary directory removed straight after.
 */
export function ensureEdgeTls(db: Db, given: { cert: string; key: string } | undefined, host: string): EdgeTlsIdentity {
  if (given) return { ...given, fingerprint: fingerprintOf(given.cert), selfSigned: false };
  const row = readRow(db);
  if (!row) throw new Error('ensureSigningKey runs first');
  if (row.tls_cert_pem && row.tls_key_pem)
    return {
      cert: row.tls_cert_pem,
      key: row.tls_key_pem,
      fingerprint: fingerprintOf(row.tls_cert_pem),
      selfSigned: true,
    };
  const made = selfSignedCertificate(host);
  db.prepare('UPDATE site_keys SET tls_cert_pem = ?, tls_key_pem = ? WHERE id = 1').run(made.cert, made.key);
  return { ...made, fingerprint: fingerprintOf(made.cert), selfSigned: true };
}

const TEN_YEARS_MS = 3650 * 86_400_000;
/**
 * Valid from the Unix epoch: a board without a clock battery boots in 1970 (or at its image's build date) and must
 * still verify the listener it downloads updates from; `req -x509` cannot set a start date, `ca -selfsign` can.
 */
const NOT_BEFORE = '19700101000000Z';

/** `openssl ca` date format, UTC. */
const asn1Time = (ms: number) => `${new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;

function selfSignedCertificate(host: string): { cert: string; key: string } {
  const bare = host.replace(/^\[|\]$/g, '');
  const san = [isIP(bare) ? `IP:${bare}` : `DNS:${bare}`, 'DNS:localhost', 'IP:127.0.0.1'];
  const dir = mkdtempSync(join(tmpdir(), 'cst-site-tls-'));
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    openssl(['req', '-new', ...EC, '-keyout', 'key.pem', '-out', 'req.csr', '-subj', `/CN=${bare.slice(0, 64)}`]);
    writeFileSync(join(dir, 'index.txt'), '');
    writeFileSync(
      join(dir, 'ca.cnf'),
      ['[ca]', 'default_ca=d', '[d]', 'database=index.txt', 'new_certs_dir=.', 'rand_serial=yes', 'default_md=sha256']
        .concat(['policy=p', 'unique_subject=no', '[p]', 'commonName=supplied', ''])
        .join('\n'),
    );
    // The extensions `req -x509` gives a self-signed certificate, and the names edges reach the listener by.
    writeFileSync(
      join(dir, 'ext'),
      [
        'basicConstraints=critical,CA:TRUE',
        'subjectKeyIdentifier=hash',
        'authorityKeyIdentifier=keyid:always',
        `subjectAltName=${[...new Set(san)].join(',')}`,
        '',
      ].join('\n'),
    );
    openssl(
      [
        'ca',
        '-batch',
        '-selfsign',
        '-config',
        'ca.cnf',
        '-keyfile',
        'key.pem',
        '-in',
        'req.csr',
        '-out',
        'cert.pem',
      ].concat([
        '-notext',
        '-extfile',
        'ext',
        '-startdate',
        NOT_BEFORE,
        '-enddate',
        asn1Time(Date.now() + TEN_YEARS_MS),
      ]),
    );
    return { cert: readFileSync(join(dir, 'cert.pem'), 'utf8'), key: readFileSync(join(dir, 'key.pem'), 'utf8') };
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new SiteServerError(
      'USAGE',
      `cannot make the edge listener's self-signed certificate with openssl (${stderr || (error as Error).message}); give --tls-cert and --tls-key`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
