/**
 * The last line of defence before anything leaves the device in a support bundle: every text is scrubbed of the
 * device's actual secrets (its edge token, its private key, pairing codes it was given) and of anything shaped
 * like one (JWTs, PEM private keys, `code=` in a pairing URI, a JWK's `d`), whatever field or log line it hides
 * in. The JSON parts were already built from allow-lists and the logs redacted by field name when written; this
 * catches what those two could not know about: a secret written percent-encoded (`%2E` for its dots, `code%3D`)
 * is found in the decoded text, and any run of 16 or more characters of the device's own long secrets (a slice
 * of its token or of its key's d) is removed, not only the whole value.
 */
import { normalizePairingCode } from '../../protocol/index.js';

export const SCRUBBED = '[redacted]';

const PATTERNS: readonly RegExp[] = [
  /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, // a JWS (edge token, assertion)
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
  /(?<=\bcode=)[^&\s"'<>/]+/gi, // a pairing URI's code, or `code=` anywhere (a file name)
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

/** A slice this long of a device secret is treated as the secret: 16 base64url characters are 96 bits of it. */
export const SECRET_SLICE_CHARS = 16;

/** Every SECRET_SLICE_CHARS-character window of the long secrets, so that any slice of them can be found. */
function sliceSet(secrets: readonly string[]): Set<string> {
  const windows = new Set<string>();
  for (const secret of secrets)
    for (let i = 0; i + SECRET_SLICE_CHARS <= secret.length; i++) windows.add(secret.slice(i, i + SECRET_SLICE_CHARS));
  return windows;
}

/** Replaces every run of text covered by windows from the set (overlapping windows make one run). */
function scrubSlices(text: string, windows: ReadonlySet<string>): string {
  if (windows.size === 0 || text.length < SECRET_SLICE_CHARS) return text;
  let out = '';
  let copiedTo = 0;
  let runEnd = -1;
  for (let i = 0; i + SECRET_SLICE_CHARS <= text.length; i++) {
    if (!windows.has(text.slice(i, i + SECRET_SLICE_CHARS))) continue;
    if (i > runEnd) {
      out += text.slice(copiedTo, i) + SCRUBBED;
    }
    runEnd = i + SECRET_SLICE_CHARS;
    copiedTo = runEnd;
  }
  return out + text.slice(copiedTo);
}

function scrubPlain(text: string, secrets: readonly string[], windows: ReadonlySet<string>): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join(SCRUBBED);
  out = scrubSlices(out, windows);
  for (const pattern of PATTERNS) out = out.replace(pattern, SCRUBBED);
  return out;
}

/** `%XX` escapes decoded byte by byte; a malformed escape is left as it is. */
function percentDecode(text: string): string {
  return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}

/** A scrubber for a fixed set of secrets (the window set is built once: for the log, line after line). */
export function secretScrubber(secrets: readonly string[]): (text: string) => string {
  const windows = sliceSet(secrets.filter((s) => s.length >= SECRET_SLICE_CHARS));
  return (text) => {
    const plain = scrubPlain(text, secrets, windows);
    if (!/%[0-9A-Fa-f]{2}/.test(plain)) return plain;
    // A secret hidden by percent-encoding: the decoded text is what is kept (it is what a reader would decode).
    const decoded = percentDecode(plain);
    const scrubbedDecoded = scrubPlain(decoded, secrets, windows);
    return scrubbedDecoded === decoded ? plain : scrubbedDecoded;
  };
}

export function scrub(text: string, secrets: readonly string[]): string {
  return secretScrubber(secrets)(text);
}
