/** `Range` parsing for the bundle and artifact downloads: what is served for each header. */
import { describe, expect, it } from 'vitest';
import { byteRangeHeaders, parseByteRange } from '../../../src/common/http/byte-range.js';

describe('parseByteRange (a 100-byte file)', () => {
  it.each([
    [undefined, { kind: 'full' }],
    ['bytes=0-', { kind: 'partial', start: 0, end: 99 }],
    ['bytes=40-', { kind: 'partial', start: 40, end: 99 }],
    ['bytes=10-19', { kind: 'partial', start: 10, end: 19 }],
    ['bytes=90-500', { kind: 'partial', start: 90, end: 99 }],
    ['bytes=-10', { kind: 'partial', start: 90, end: 99 }],
    ['bytes=-500', { kind: 'partial', start: 0, end: 99 }],
    ['bytes=100-', { kind: 'unsatisfiable' }],
    ['bytes=-0', { kind: 'unsatisfiable' }],
    // Not understood: served whole, as RFC 9110 allows.
    ['bytes=20-10', { kind: 'full' }],
    ['bytes=0-1,5-6', { kind: 'full' }],
    ['items=0-1', { kind: 'full' }],
    ['bytes=-', { kind: 'full' }],
    ['bytes=99999999999999999999-', { kind: 'full' }],
  ])('%s', (header, expected) => {
    expect(parseByteRange(header, 100)).toEqual(expected);
  });
});

describe('byteRangeHeaders', () => {
  it('describes a part, a refusal and the whole', () => {
    expect(byteRangeHeaders({ kind: 'partial', start: 40, end: 99 }, 100)).toEqual({
      'Content-Range': 'bytes 40-99/100',
      'Content-Length': '60',
    });
    expect(byteRangeHeaders({ kind: 'unsatisfiable' }, 100)).toEqual({ 'Content-Range': 'bytes */100' });
    expect(byteRangeHeaders({ kind: 'full' }, 100)).toEqual({ 'Content-Length': '100' });
  });
});
