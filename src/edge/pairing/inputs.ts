/**
 * What `pair` needs, from a pairing URI or from separate flags, validated into one shape. Errors are
 * technician-readable and never echo the pairing code back.
 */
import { readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { z } from 'zod';
import { EdgeId, LicenceKey, normalizePairingCode, parsePairingUri, Uuid } from '../../protocol/index.js';
import { parseCaPem } from '../cloud-client/http-pinned.js';
import { EdgeError } from '../errors.js';

export interface PairingTarget {
  cloudUrl: string;
  orgId: string;
  siteId: string;
  /** The canonical code; held in memory only. */
  code: string;
  /** The edge id the code was minted for, when the pairing URI names one. */
  edgeId?: string;
}

export interface PairingInput extends PairingTarget {
  edgeId: string;
  licenceKey?: string;
}

export interface PairingFlags {
  uri?: string | undefined;
  cloud?: string | undefined;
  org?: string | undefined;
  site?: string | undefined;
  code?: string | undefined;
  edgeId?: string | undefined;
  licenceKey?: string | undefined;
}

/** The cloud's base URL as the token issuer: no trailing slash, no path noise, http(s) only. */
export function normaliseCloudUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new EdgeError('USAGE', '--cloud must be a URL such as https://cloud.consystence.com');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new EdgeError('USAGE', '--cloud must start with https:// (or http:// for a local test cloud)');
  if (url.username || url.password || url.search || url.hash)
    throw new EdgeError('USAGE', '--cloud must be a plain base URL (no user, query or fragment)');
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/**
 * The default edge id: the host name, lower-cased, anything outside [a-z0-9-] turned into a dash, trimmed to
 * the EdgeId pattern (63 characters, starting with a letter or digit). Falls back to `edge`.
 */
export function edgeIdFromHostname(hostname: string = osHostname()): string {
  const cleaned = hostname
    .toLowerCase()
    .split('.')[0]!
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+/, '')
    .replace(/-+/g, '-')
    .slice(0, 63)
    .replace(/-+$/, '');
  return EdgeId.safeParse(cleaned).success ? cleaned : 'edge';
}

export function pairingInputFrom(flags: PairingFlags, defaultHostname?: string): PairingInput {
  const separate = [flags.cloud, flags.org, flags.site, flags.code].filter((v) => v !== undefined).length;
  let target: PairingTarget;
  if (flags.uri !== undefined) {
    if (separate > 0) throw new EdgeError('USAGE', 'give either --uri or --cloud/--org/--site/--code, not both');
    const cut = shellCutHint(flags.uri);
    if (cut) throw new EdgeError('USAGE', cut);
    let parsed;
    try {
      parsed = parsePairingUri(flags.uri);
    } catch (error) {
      throw new EdgeError('USAGE', (error as Error).message);
    }
    target = {
      cloudUrl: normaliseCloudUrl(parsed.cloud),
      orgId: parsed.org,
      siteId: parsed.site,
      code: normalizePairingCode(parsed.code)!,
      ...(parsed.edge ? { edgeId: parsed.edge } : {}),
    };
  } else {
    if (separate === 0)
      throw new EdgeError(
        'USAGE',
        "pass --uri 'consystence-edge://pair?…' (from the portal), or all of --cloud, --org, --site and --code",
      );
    const missing = (['cloud', 'org', 'site', 'code'] as const).filter((k) => flags[k] === undefined);
    if (missing.length)
      throw new EdgeError('USAGE', `missing ${missing.map((m) => `--${m}`).join(', ')} (or use --uri)`);
    if (!Uuid.safeParse(flags.org).success)
      throw new EdgeError('USAGE', '--org must be the organisation id (a UUID) shown in the portal');
    if (!Uuid.safeParse(flags.site).success)
      throw new EdgeError('USAGE', '--site must be the site id (a UUID) shown in the portal');
    const code = normalizePairingCode(flags.code!);
    if (!code) throw new EdgeError('USAGE', '--code must be a pairing code such as 7KQ4-MX29 (8 letters and digits)');
    target = { cloudUrl: normaliseCloudUrl(flags.cloud!), orgId: flags.org!, siteId: flags.site!, code };
  }
  // A code minted for one device says so in its URI: a different --edge-id would only be refused by the cloud.
  if (flags.edgeId !== undefined && target.edgeId !== undefined && flags.edgeId !== target.edgeId) {
    throw new EdgeError(
      'USAGE',
      `this pairing URI was made for the edge id ${target.edgeId}; drop --edge-id, or ask for a code for ${flags.edgeId}`,
    );
  }
  const edgeId = flags.edgeId ?? target.edgeId ?? edgeIdFromHostname(defaultHostname);
  if (!EdgeId.safeParse(edgeId).success)
    throw new EdgeError(
      'USAGE',
      '--edge-id must be 1-63 lowercase letters, digits and dashes, starting with a letter or digit (e.g. orin-north-01)',
    );
  let licenceKey: string | undefined;
  if (flags.licenceKey !== undefined) {
    const parsed = LicenceKey.safeParse(flags.licenceKey.trim().toUpperCase());
    if (!parsed.success) throw new EdgeError('USAGE', '--licence-key must look like CST-EDGE-XXXX-XXXX-XXXX');
    licenceKey = parsed.data;
  }
  return { ...target, edgeId, ...(licenceKey ? { licenceKey } : {}) };
}

/** The fields of a pairing URI in the order the portal writes them. */
const URI_FIELD_ORDER = ['cloud', 'org', 'site', 'code'] as const;

/**
 * A pairing URI pasted without quotes is cut by the shell at the first `&` (the rest becomes a background job
 * and variable assignments), so only `cloud=` arrives; an `org=` without `site` and `code` is the same accident
 * one field later. Asking for a new code would not help: the technician must quote the URI.
 */
export function shellCutHint(uri: string): string | null {
  let url: URL;
  try {
    url = new URL(uri.trim());
  } catch {
    return null;
  }
  if (url.protocol !== 'consystence-edge:') return null;
  const present = URI_FIELD_ORDER.filter((field) => url.searchParams.has(field));
  const missing = URI_FIELD_ORDER.filter((field) => !url.searchParams.has(field));
  // Cut at an `&`: what arrived is a leading run of the fields (cloud, or cloud+org, …) and nothing after it.
  const leadingRun = present.every((field, i) => URI_FIELD_ORDER[i] === field);
  if (present.length === 0 || missing.length === 0 || !leadingRun) return null;
  const last = present[present.length - 1]!;
  return `the pairing URI ends after '${last}=' and has no ${missing.map((m) => `'${m}='`).join(', ')}: the shell cut it at the '&' because it was not quoted. Put it in single quotes: pair --uri 'consystence-edge://pair?cloud=…&org=…&site=…&code=…', or run 'pair --uri -' and paste it (then Enter and Ctrl-D)`;
}

export const PairingUriFileContent = z.string().max(4096);

/**
 * `--cloud-ca FILE`: the CA that signed a private cloud's certificate. Read and checked before anything is sent,
 * and only for an https cloud (a CA for plain http would be a silent no-op).
 */
export function cloudCaFrom(path: string, cloudUrl: string): string {
  if (!cloudUrl.startsWith('https://')) throw new EdgeError('USAGE', '--cloud-ca needs an https:// cloud URL');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new EdgeError(
      'USAGE',
      `cannot read --cloud-ca ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
  return parseCaPem(text, `--cloud-ca ${path}`);
}
