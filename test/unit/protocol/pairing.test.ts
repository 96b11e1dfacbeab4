import { describe, expect, it } from 'vitest';
import {
  buildPairingUri,
  formatPairingCode,
  normalizePairingCode,
  parsePairingUri,
} from '../../../src/protocol/index.js';

const parts = {
  cloud: 'https://cloud.example.test',
  org: 'd4e5f6a7-8b9c-4d1e-8f3a-4b5c6d7e8f9a',
  site: 'f6a7b8c9-0d1e-4f3a-8b5c-6d7e8f9a0b1c',
  code: '7KQ4-MX29',
};

describe('pairing codes', () => {
  it('formats 8 Crockford characters as XXXX-XXXX', () => {
    const code = formatPairingCode(new Uint8Array([0, 1, 2, 3, 4, 5, 6, 31]));
    expect(code).toBe('0123-456Z');
  });

  it('normalises what a person types: case, dashes, spaces and look-alikes', () => {
    expect(normalizePairingCode('7kq4-mx29')).toBe('7KQ4MX29');
    expect(normalizePairingCode(' 7KQ4 MX29 ')).toBe('7KQ4MX29');
    expect(normalizePairingCode('O1IL-0000')).toBe('01110000');
    expect(normalizePairingCode('7KQ4-MX2')).toBeNull();
    expect(normalizePairingCode('7KQ4-MX2U')).toBeNull(); // U is not Crockford
  });
});

describe('pairing URIs', () => {
  it('round-trips, with and without the edge id a code was minted for', () => {
    expect(parsePairingUri(buildPairingUri(parts))).toEqual(parts);
    expect(parsePairingUri(buildPairingUri({ ...parts, edge: 'orin-north-07' }))).toEqual({
      ...parts,
      edge: 'orin-north-07',
    });
  });

  it('explains what is wrong with a bad URI', () => {
    expect(() => parsePairingUri('hello')).toThrow(/not a URI/);
    expect(() => parsePairingUri('https://pair?x=1')).toThrow(/consystence-edge:\/\/pair/);
    expect(() => parsePairingUri(buildPairingUri(parts).replace(/code=[^&]+/, 'code=bad'))).toThrow(/code/);
    expect(() => parsePairingUri('consystence-edge://pair?cloud=https://c.test')).toThrow(/org|site|code/);
  });
});
