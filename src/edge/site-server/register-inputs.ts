/**
 * What `register` needs, from flags or from the first-boot registration file, validated into one shape.
 * Errors are technician-readable and never echo the licence key back.
 */
import { EdgeId, LicenceKey, SiteFingerprint } from '../../protocol/index.js';
import { LICENCE_KEY_ENV } from '../cli/secret-input.js';
import { EdgeError } from '../errors.js';
import { edgeIdFromHostname } from '../pairing/inputs.js';
import type { SiteRegisterInput } from './register.js';

export interface SiteRegisterFlags {
  siteServer?: string | undefined;
  edgeId?: string | undefined;
  licenceKey?: string | undefined;
  fingerprint?: string | undefined;
}

/** The site server's edge-facing base URL: https only (its identity is its TLS key), no user, query or fragment. */
export function normaliseSiteServerUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new EdgeError('USAGE', '--site-server must be a URL such as https://site-server.local:5000');
  }
  if (url.protocol !== 'https:')
    throw new EdgeError('USAGE', '--site-server must start with https:// (the site server is trusted by its TLS key)');
  if (url.username || url.password || url.search || url.hash)
    throw new EdgeError('USAGE', '--site-server must be a plain base URL (no user, query or fragment)');
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

export function siteRegisterInputFrom(flags: SiteRegisterFlags, defaultHostname?: string): SiteRegisterInput {
  if (flags.siteServer === undefined)
    throw new EdgeError('USAGE', 'missing --site-server (the site server URL, e.g. https://site-server.local:5000)');
  const siteServerUrl = normaliseSiteServerUrl(flags.siteServer);
  if (flags.licenceKey === undefined)
    throw new EdgeError(
      'USAGE',
      `missing the licence key: give --licence-key-file FILE, --licence-key - (stdin) or the environment variable ${LICENCE_KEY_ENV}`,
    );
  const licenceKey = LicenceKey.safeParse(flags.licenceKey.trim().toUpperCase());
  if (!licenceKey.success)
    throw new EdgeError('USAGE', 'the licence key must look like CST-EDGE-XXXX-XXXX-XXXX (letters and digits)');
  const edgeId = flags.edgeId ?? edgeIdFromHostname(defaultHostname);
  if (!EdgeId.safeParse(edgeId).success)
    throw new EdgeError(
      'USAGE',
      '--edge-id must be 1-63 lowercase letters, digits and dashes, starting with a letter or digit (e.g. orin-north-01)',
    );
  let fingerprint: SiteFingerprint | undefined;
  if (flags.fingerprint !== undefined) {
    const parsed = SiteFingerprint.safeParse(flags.fingerprint);
    if (!parsed.success)
      throw new EdgeError(
        'USAGE',
        '--site-server-fingerprint must be sha256: and 64 hex digits, as the site server prints it at start',
      );
    fingerprint = parsed.data;
  }
  return { siteServerUrl, edgeId, licenceKey: licenceKey.data, ...(fingerprint ? { fingerprint } : {}) };
}

/**
 * The first-boot registration file (`CONSYSTENCE_EDGE_REGISTRATION_FILE`): `key=value` lines `site-server=`,
 * `fingerprint=`, `edge-id=` (optional) and `licence-key=`; blank lines and `#` comments ignored. The fingerprint
 * is required here: the service has no terminal to ask on.
 */
export function parseRegistrationFile(text: string, defaultHostname?: string): SiteRegisterInput {
  const fields = new Map<string, string>();
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const at = line.indexOf('=');
    const key = at > 0 ? line.slice(0, at).trim() : '';
    if (!['site-server', 'fingerprint', 'edge-id', 'licence-key'].includes(key))
      throw new EdgeError(
        'USAGE',
        `line ${index + 1} is not one of site-server=, fingerprint=, edge-id=, licence-key=`,
      );
    if (fields.has(key)) throw new EdgeError('USAGE', `${key}= appears twice`);
    fields.set(key, line.slice(at + 1).trim());
  }
  if (!fields.has('fingerprint'))
    throw new EdgeError('USAGE', 'fingerprint= is missing (the service cannot ask; copy it from the site server)');
  return siteRegisterInputFrom(
    {
      siteServer: fields.get('site-server'),
      edgeId: fields.get('edge-id'),
      licenceKey: fields.get('licence-key'),
      fingerprint: fields.get('fingerprint'),
    },
    defaultHostname,
  );
}
