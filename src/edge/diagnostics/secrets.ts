/**
 * The last line of defence before anything leaves the device in a support bundle: every text is scrubbed of the
 * device's actual secrets (its edge token, its private key, pairing codes it was given) and of anything shaped
 * like one (JWTs, PEM private keys, `code=` in a pairing URI, a JWK's `d`), whatever field or log line it hides
 * in. The JSON parts were already built from allow-lists and the logs redacted by field name when written; this
 * catches what those two could not know about.
 */
import { normalizePairingCode } from '../../protocol/index.js';

export const SCRUBBED = '[redacted]';

const PATTERNS: readonly RegExp[] = [
  /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, // a JWS (edge token, assertion)
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
  /(?<=[?&]code=)[^&\s"'<>]+/g, // a pairing URI's code
  /(?<="d"\s*:\s*")[^"]+/g, // a private JWK's d
];

/** The secret values themselves, and the forms a pairing code may be written in. Short values are ignored. */
export function secretVariants(values: ReadonlyArray<string | null | undefined>): string[] {
  const out = new Set<string>();
  for (const value of values) {
    if (!value || value.length < 6) continue;
    out.add(value);
    const code = normalizePairingCode(value);
    if (code) {
      out.add(code);
      out.add(`${code.slice(0, 4)}-${code.slice(4)}`);
    }
  }
  // Longest first, so a token is replaced whole before any shorter secret inside it.
  return [...out].sort((a, b) => b.length - a.length);
}

/** Pairing codes found in a pairing URI text (the pairing-URI file), for `secretVariants`. */
export function pairingCodesIn(text: string): string[] {
  return [...text.matchAll(/[?&]code=([^&\s"'<>]+)/g)].map((m) => decodeURIComponent(m[1]!));
}

export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join(SCRUBBED);
  for (const pattern of PATTERNS) out = out.replace(pattern, SCRUBBED);
  return out;
}
