/**
 * TLS as the edge uses it, for the site server (mqtts) and the cloud (https with --cloud-ca): the pinned options,
 * and every certificate failure turned into a sentence a technician can act on. Node and Bun report the same
 * OpenSSL-derived codes (`error.code`), which is what is matched here; the message is never parsed.
 */
import { TLS_CIPHERS } from '../../common/tls/ciphers.js';
import { splitCaBundle } from '../../protocol/index.js';

export interface PinnedTlsOptions {
  rejectUnauthorized: true;
  minVersion: 'TLSv1.2';
  ciphers: string;
  servername?: string;
  ca?: string | string[];
}

/**
 * TLS 1.2+ with the pinned ciphers. With `ca` set, Node and Bun trust only it: the system store is not added, so a
 * public CA cannot vouch for a site server.
 */
export function pinnedTlsOptions(hostname: string, caPem: string | undefined): PinnedTlsOptions {
  return {
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    ciphers: TLS_CIPHERS,
    // SNI must be a host name, never an IP literal (RFC 6066); the certificate is still checked against the IP.
    ...(isIpLiteral(hostname) ? {} : { servername: hostname }),
    // One entry per certificate: during a CA rotation the bundle holds the old and the new CA, both trusted.
    ...(caPem ? { ca: caList(caPem) } : {}),
  };
}

function caList(pem: string): string | string[] {
  const certificates = splitCaBundle(pem);
  return certificates.length > 1 ? certificates : pem;
}

function isIpLiteral(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

export type TlsPeer = 'site server' | 'cloud';

const CA_HINT: Record<TlsPeer, string> = {
  'site server': "re-pair this device (the cloud delivers the site's CA) or check the site server's certificate",
  cloud: "check --cloud-ca (the CA that signed the cloud's certificate) or a proxy intercepting TLS on this network",
};

/**
 * A technician-readable sentence for a TLS failure, or undefined when `error` is not one. `host` is the name the
 * device checked the certificate against. Codes: Node's `tls` / OpenSSL X509 verify results, as Bun reports them too.
 */
export function describeTlsError(error: unknown, peer: TlsPeer, host: string, pinned: boolean): string | undefined {
  const code = tlsCode(error);
  if (!code) return undefined;
  const given = pinned ? 'the CA this device was given' : 'any CA this device trusts';
  const their = `the ${peer}'s certificate`;
  switch (code) {
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'CERT_SIGNATURE_FAILURE':
      return `${their} is not signed by ${given} (${code}); ${CA_HINT[peer]}`;
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return `${their} is self-signed, not issued by ${given} (${code}); ${CA_HINT[peer]}`;
    case 'CERT_HAS_EXPIRED':
      return `${their} has expired (${code}); renew it on the ${peer}, or, if it is new, check this device's clock`;
    case 'CERT_NOT_YET_VALID':
      return `${their} is not valid yet (${code}); check this device's clock (NTP) and the certificate's start date`;
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
    case 'HOSTNAME_MISMATCH':
      return `${their} is not issued for ${host} (${code}); the certificate's names (SAN) must include the address this device uses, or re-pair with the right address`;
    case 'CERT_REVOKED':
      return `${their} was revoked (${code}); install a new certificate on the ${peer}`;
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'ERR_SSL_PACKET_LENGTH_TOO_LONG':
      return `the ${peer} at ${host} did not answer TLS (${code}); the port may be a plain (non-TLS) listener: check the URL's scheme and port`;
    default:
      if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code === 'EPROTO') {
        return `the TLS handshake with the ${peer} at ${host} failed (${code}); check that it offers TLS 1.2 or later with a modern cipher`;
      }
      return undefined;
  }
}

/** OpenSSL's X509 verify results (as Node and Bun name them) and the TLS layer's own error codes. */
const TLS_CODE =
  /^(ERR_SSL_|ERR_TLS_|EPROTO$|UNABLE_TO_|[A-Z_]*CERT[A-Z_]*$|HOSTNAME_MISMATCH$|INVALID_CA$|INVALID_PURPOSE$)/;

/** The TLS code of an error or its cause (fetch wraps the socket error in `cause`). */
export function tlsCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && TLS_CODE.test(code)) return code;
  }
  return undefined;
}
