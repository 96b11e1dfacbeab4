/**
 * Pairing codes and pairing URIs (CONTRACT §3). A code is 8 Crockford base32 characters shown as `XXXX-XXXX`:
 * typeable, case- and dash-insensitive, with the look-alike letters (I, L, O, U) folded away.
 */
import { z } from 'zod';
import { EdgeId, Uuid } from './common.js';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const PAIRING_URI_SCHEME = 'consystence-edge:';

/** Makes a fresh code from a random source (injected so tests can be deterministic). */
export function formatPairingCode(randomBytes: Uint8Array): string {
  if (randomBytes.length < 8) throw new Error('need 8 random bytes');
  let out = '';
  for (let i = 0; i < 8; i++) out += CROCKFORD[randomBytes[i]! % 32];
  return `${out.slice(0, 4)}-${out.slice(4)}`;
}

/** Canonical form of what a person typed: upper case, no dashes or spaces, look-alikes folded. Null if invalid. */
export function normalizePairingCode(input: string): string | null {
  const folded = input.toUpperCase().replace(/[\s-]/g, '').replace(/[IL]/g, '1').replace(/O/g, '0');
  if (!/^[0-9A-HJKMNP-TV-Z]{8}$/.test(folded)) return null;
  return folded;
}

export const PairingUri = z.object({
  cloud: z.url({ protocol: /^https?$/ }),
  org: Uuid,
  site: Uuid,
  code: z.string().refine((c) => normalizePairingCode(c) !== null, 'a pairing code such as 7KQ4-MX29'),
  /** Present when the code was minted for one device: that device's edge id, so pasting the URI is enough. */
  edge: EdgeId.optional(),
});
export type PairingUri = z.infer<typeof PairingUri>;

export function buildPairingUri(parts: PairingUri): string {
  const query = new URLSearchParams({
    cloud: parts.cloud,
    org: parts.org,
    site: parts.site,
    code: parts.code,
    ...(parts.edge ? { edge: parts.edge } : {}),
  });
  return `${PAIRING_URI_SCHEME}//pair?${query.toString()}`;
}

/** Parses a pasted pairing URI. Throws a message a technician can act on. */
export function parsePairingUri(text: string): PairingUri {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new Error('the pairing URI is not a URI; paste the whole line that starts with consystence-edge://pair?');
  }
  if (url.protocol !== PAIRING_URI_SCHEME || url.hostname !== 'pair') {
    throw new Error('the pairing URI must start with consystence-edge://pair?');
  }
  const fields = Object.fromEntries(url.searchParams.entries());
  const parsed = PairingUri.safeParse(fields);
  if (!parsed.success) {
    const missing = parsed.error.issues.map((i) => i.path.join('.')).join(', ');
    throw new Error(`the pairing URI is incomplete or damaged (check: ${missing}); ask for a new one`);
  }
  return parsed.data;
}
