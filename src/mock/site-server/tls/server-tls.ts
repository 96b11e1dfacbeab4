/**
 * Reads and checks the broker's TLS files once, at start, so a wrong path or a key that does not match its
 * certificate stops the server with a sentence naming the flag (exit 2), not a handshake failure on every edge
 * later. Problems an edge will report by itself (expired, not from --tls-ca, not issued for the public host) are
 * only warned about: this is a mock, and serving such certificates on purpose is how edges' refusals are tested.
 *
 * The private key is never logged and never part of an error message: only paths and OpenSSL's reason are.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { createSecureContext } from 'node:tls';
import type { Logger } from '../../../common/log/log.js';
import { SiteServerError } from '../errors.js';

/** Far above any real certificate chain or key; stops a wrong path (a disk image) from being read into memory. */
const MAX_PEM_BYTES = 256 * 1024;
/** The cloud accepts a CA bundle up to this size (register-server `endpoints.caCertificatePem`). */
const MAX_CA_PEM_CHARS = 65_536;
const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export interface ServerTlsFiles {
  cert?: string | undefined;
  key?: string | undefined;
  ca?: string | undefined;
}

export interface ServerTls {
  /** For the embedded broker's listener; absent when only --tls-ca was given (external broker). */
  identity?: { cert: string; key: string };
  /** Only the CERTIFICATE blocks of --tls-ca: whatever else the file holds (a key by mistake) never leaves. */
  caPem?: string;
}

function readPem(flag: string, path: string): string {
  try {
    const size = statSync(path).size;
    if (size > MAX_PEM_BYTES)
      throw new SiteServerError('USAGE', `${flag} ${path}: ${size} bytes is not a PEM file (over ${MAX_PEM_BYTES})`);
    return readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof SiteServerError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new SiteServerError('USAGE', `${flag} ${path}: cannot read it (${code})`);
  }
}

function parseCert(flag: string, path: string, pem: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw new SiteServerError('USAGE', `${flag} ${path}: not a PEM certificate (expected -----BEGIN CERTIFICATE-----)`);
  }
}

function loadCa(path: string): { pem: string; cert: X509Certificate } {
  const blocks = readPem('--tls-ca', path).match(CERT_BLOCK) ?? [];
  if (!blocks.length) throw new SiteServerError('USAGE', `--tls-ca ${path}: no PEM certificate in it`);
  const pem = `${blocks.join('\n')}\n`;
  if (pem.length > MAX_CA_PEM_CHARS)
    throw new SiteServerError(
      'USAGE',
      `--tls-ca ${path}: ${pem.length} characters of certificates; the cloud takes at most ${MAX_CA_PEM_CHARS}`,
    );
  const cert = parseCert('--tls-ca', path, blocks[0]!);
  // Edges trust only this certificate: a leaf here would make every edge refuse the broker.
  if (!cert.ca)
    throw new SiteServerError(
      'USAGE',
      `--tls-ca ${path}: holds a certificate that is not a CA (basicConstraints CA:FALSE); give the CA that signed --tls-cert`,
    );
  return { pem, cert };
}

export function loadServerTls(files: ServerTlsFiles, publicHost: string, logger: Logger): ServerTls {
  const ca = files.ca ? loadCa(files.ca) : undefined;
  if (!files.cert || !files.key) return ca ? { caPem: ca.pem } : {};

  const certPem = readPem('--tls-cert', files.cert);
  const keyPem = readPem('--tls-key', files.key);
  const leaf = parseCert('--tls-cert', files.cert, certPem);
  try {
    createPrivateKey(keyPem);
  } catch {
    throw new SiteServerError('USAGE', `--tls-key ${files.key}: not an unencrypted PEM private key`);
  }
  try {
    createSecureContext({ cert: certPem, key: keyPem });
  } catch (error) {
    throw new SiteServerError(
      'USAGE',
      `--tls-key ${files.key} does not belong to --tls-cert ${files.cert} (${(error as Error).message})`,
    );
  }

  const warn = (problem: string) => logger.warn('tls_certificate_warning', { cert: files.cert, problem });
  if (Date.parse(leaf.validTo) < Date.now()) warn(`it expired on ${leaf.validTo}; edges will refuse it`);
  if (Date.parse(leaf.validFrom) > Date.now()) warn(`it is not valid before ${leaf.validFrom}; edges will refuse it`);
  const host = publicHost.replace(/^\[|\]$/g, '');
  if (!(isIP(host) ? leaf.checkIP(host) : leaf.checkHost(host)))
    warn(`it is not issued for ${host} (the host edges are told to use); edges will refuse it`);
  if (ca && !(leaf.checkIssued(ca.cert) && leaf.verify(ca.cert.publicKey)))
    warn('it is not signed by --tls-ca; edges will refuse it');
  if (!ca) warn('no --tls-ca: edges are told no CA, so they accept this certificate only if a public CA issued it');

  return { identity: { cert: certPem, key: keyPem }, ...(ca ? { caPem: ca.pem } : {}) };
}
