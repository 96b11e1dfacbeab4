/**
 * Generates a private CA and server certificates with the `openssl` CLI (no npm dependency): for a site, a demo
 * or a test. `tsx scripts/gen-certs.ts --out DIR [--name site-server.local]...`
 *
 * Good set (what a site installs): `ca.pem` (give it to the cloud: edges receive it as `caCertificatePem` and trust
 * only it), `ca.key` (keep offline), `server.pem`/`server.key` (the broker's listener and the site server).
 * SANs: localhost, 127.0.0.1, ::1 and every --name (host names verified by the edge must be in this list).
 *
 * With --bad, deliberately broken ones for tests, each for the names above: `expired` (signed by the CA, expired in
 * 2020), `self-signed` (no CA), `wrong-host` (signed by the CA, only for wrong-host.invalid), and `other-ca.pem`
 * (a second CA, to pin the wrong one).
 *
 * EC P-256 keys with SHA-256 signatures: small and fast on an Orin, and accepted by every TLS 1.2/1.3 stack.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export interface CertPair {
  cert: string;
  key: string;
}
export interface CertSet {
  dir: string;
  ca: CertPair;
  server: CertPair;
  /** Present with `bad: true`. */
  bad?: { expired: CertPair; selfSigned: CertPair; wrongHost: CertPair; otherCa: CertPair };
}

export interface GenOptions {
  /** Extra DNS names (or IPs) for the server certificate. */
  names?: string[];
  days?: number;
  bad?: boolean;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? '');
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim() || (error as Error).message}`);
  }
}

function sanList(names: string[]): string {
  const all = [...new Set(['localhost', '127.0.0.1', '::1', ...names])];
  return all.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
}

function lockKey(path: string): void {
  chmodSync(path, 0o600);
}

function makeCa(dir: string, name: string, days: number): CertPair {
  const pair = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
  openssl(
    [
      'req',
      '-x509',
      ...EC,
      '-keyout',
      pair.key,
      '-out',
      pair.cert,
      '-days',
      String(days),
      '-subj',
      `/CN=Consystence site CA (${name})`,
      '-addext',
      'basicConstraints=critical,CA:TRUE,pathlen:0',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  lockKey(pair.key);
  return pair;
}

/** A leaf certificate signed by `ca` through `openssl ca`, which (unlike `x509 -req`) takes explicit dates. */
function signLeaf(
  dir: string,
  name: string,
  ca: CertPair,
  sans: string,
  dates: { start: string; end: string },
): CertPair {
  const work = mkdtempSync(join(dir, '.ca-'));
  try {
    const pair = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
    const csr = join(work, 'req.csr');
    openssl(['req', '-new', ...EC, '-keyout', pair.key, '-out', csr, '-subj', `/CN=${name}`], work);
    lockKey(pair.key);
    writeFileSync(join(work, 'index.txt'), '');
    writeFileSync(
      join(work, 'serial'),
      `${Date.now().toString(16)}${Math.floor(Math.random() * 1e6).toString(16)}`.padStart(16, '0').slice(-16),
    );
    writeFileSync(
      join(work, 'ca.cnf'),
      [
        '[ca]',
        'default_ca=d',
        '[d]',
        'database=index.txt',
        'new_certs_dir=.',
        'serial=serial',
        'default_md=sha256',
        'policy=p',
        'unique_subject=no',
        '[p]',
        'commonName=supplied',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(work, 'ext'),
      [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth',
        `subjectAltName=${sans}`,
        '',
      ].join('\n'),
    );
    openssl(
      [
        'ca',
        '-batch',
        '-config',
        'ca.cnf',
        '-in',
        csr,
        '-out',
        pair.cert,
        '-cert',
        ca.cert,
        '-keyfile',
        ca.key,
        '-notext',
        '-startdate',
        dates.start,
        '-enddate',
        dates.end,
        '-extfile',
        'ext',
      ],
      work,
    );
    return pair;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** `openssl ca` date format, UTC. */
function asn1Time(ms: number): string {
  return `${new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

export function generateCerts(outDir: string, options: GenOptions = {}): CertSet {
  const dir = resolve(outDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const days = options.days ?? 825;
  const sans = sanList(options.names ?? []);
  // Valid from an hour ago: a device whose clock is a little behind must not see "not yet valid".
  const valid = { start: asn1Time(Date.now() - 3_600_000), end: asn1Time(Date.now() + days * 86_400_000) };
  const ca = makeCa(dir, 'ca', days + 365);
  const server = signLeaf(dir, 'server', ca, sans, valid);
  const set: CertSet = { dir, ca, server };
  if (options.bad) {
    const expired = signLeaf(dir, 'expired', ca, sans, { start: '20200101000000Z', end: '20200201000000Z' });
    const wrongHost = signLeaf(dir, 'wrong-host', ca, 'DNS:wrong-host.invalid', valid);
    const selfSigned = { cert: join(dir, 'self-signed.pem'), key: join(dir, 'self-signed.key') };
    openssl(
      [
        'req',
        '-x509',
        ...EC,
        '-keyout',
        selfSigned.key,
        '-out',
        selfSigned.cert,
        '-days',
        '30',
        '-subj',
        '/CN=localhost',
        '-addext',
        `subjectAltName=${sans}`,
      ],
      dir,
    );
    lockKey(selfSigned.key);
    const otherCa = makeCa(dir, 'other-ca', 30);
    set.bad = { expired, selfSigned, wrongHost, otherCa };
  }
  return set;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      name: { type: 'string', multiple: true },
      days: { type: 'string' },
      bad: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || !values.out) {
    process.stdout.write('Usage: tsx scripts/gen-certs.ts --out DIR [--name HOST]... [--days N (825)] [--bad]\n');
    process.exit(values.help ? 0 : 2);
  }
  const set = generateCerts(values.out, {
    names: values.name ?? [],
    ...(values.days ? { days: Number(values.days) } : {}),
    bad: values.bad === true,
  });
  process.stdout.write(
    `${JSON.stringify({ dir: set.dir, ca: set.ca.cert, server: set.server, ...(set.bad ? { bad: set.bad } : {}) }, null, 2)}\n`,
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
