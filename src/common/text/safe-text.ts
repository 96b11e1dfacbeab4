/**
 * Text that came from the network (the cloud, the site server, a pushed config) made safe to print or log: one
 * helper used at the boundary. A cloud error message carrying ANSI escapes once erased the FAILED line on a
 * technician's terminal and drew fake "ok: paired" lines; a 60,000-character config key filled the log.
 */

/** CSI (`ESC [ … final`, or the one-byte C1 CSI), OSC (`ESC ] … BEL|ST`) and two-byte `ESC x` sequences. */
const ESCAPE_SEQUENCE =
  /\u001b\[[0-?]*[ -/]*[@-~]?|\u009b[0-?]*[ -/]*[@-~]?|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[@-_]?/g;
/**
 * What is left after the sequences: C0 (CR, LF, TAB included: a message is one line), DEL, C1, and the bidi
 * controls that reorder what a reader sees (LRM/RLM, ALM, embeddings and overrides, isolates).
 */
const UNSAFE_CHARACTER = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** The default cap for one echoed value: long enough for any real message, short enough for a log line. */
export const MAX_ECHOED_CHARS = 300;

/**
 * `text` without escape sequences or control characters (each replaced by `?`, so a tampered message looks
 * tampered), cut to `maxChars` with the number of characters left out.
 */
export function printable(text: string, maxChars: number = MAX_ECHOED_CHARS): string {
  const clean = text.replace(ESCAPE_SEQUENCE, '?').replace(UNSAFE_CHARACTER, '?');
  if (clean.length <= maxChars) return clean;
  return `${clean.slice(0, maxChars)}… (${clean.length - maxChars} more characters)`;
}
