/**
 * `Range: bytes=…` for a file served whole or from an offset (RFC 9110 §14): the cloud's bundle download and the
 * site server's artifact route, which a device resumes from the offset of its partial file. One range only; a
 * header this does not understand (several ranges, another unit, bad syntax) is ignored, as the RFC allows, and
 * the whole file is served.
 */
export type ByteRange =
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number }
  /** Starts at or beyond the end: answer 416 with `Content-Range: bytes * /size`. */
  | { kind: 'unsatisfiable' };

export function parseByteRange(header: string | undefined, size: number): ByteRange {
  const match = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header?.trim() ?? '');
  if (!match) return { kind: 'full' };
  const [, first = '', last = ''] = match;
  if (first === '') {
    // A suffix: the last N bytes.
    if (last === '') return { kind: 'full' };
    const length = Number(last);
    if (length === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - length), end: size - 1 };
  }
  const start = Number(first);
  if (last !== '' && Number(last) < start) return { kind: 'full' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end: last === '' ? size - 1 : Math.min(Number(last), size - 1) };
}

/** The headers of a 206 answer (`Content-Range`, `Content-Length`) or of a 416 (`Content-Range: bytes * /size`). */
export function byteRangeHeaders(range: ByteRange, size: number): Record<string, string> {
  if (range.kind === 'partial')
    return {
      'Content-Range': `bytes ${range.start}-${range.end}/${size}`,
      'Content-Length': String(range.end - range.start + 1),
    };
  if (range.kind === 'unsatisfiable') return { 'Content-Range': `bytes */${size}` };
  return { 'Content-Length': String(size) };
}
