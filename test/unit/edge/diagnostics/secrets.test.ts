import { describe, expect, it } from 'vitest';
import { pairingCodesIn, scrub, secretVariants } from '../../../../src/edge/diagnostics/secrets.js';

describe('secret scrubbing', () => {
  it('replaces known secret values, and a pairing code in every way it may be written', () => {
    const secrets = secretVariants(['7kq4-mx29', 'short', 'a-long-device-secret-value']);
    const text = 'code 7KQ4-MX29 or 7KQ4MX29; a-long-device-secret-value; short stays';
    expect(scrub(text, secrets)).toBe('code [redacted] or [redacted]; [redacted]; short stays');
  });

  it('replaces anything shaped like a token, a private key, a URI code or a JWK d without knowing it', () => {
    const jwt = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    const pem = '-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----';
    const out = scrub(`${jwt} ${pem} consystence-edge://pair?org=o&code=ABCD-1234&x=1 {"d": "c2VjcmV0"}`, []);
    expect(out).toBe('[redacted] [redacted] consystence-edge://pair?org=o&code=[redacted]&x=1 {"d": "[redacted]"}');
  });

  it("finds the device's secrets percent-encoded, and any 16-character slice of them (the tester's findings)", () => {
    const token = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJvcmluLTEifQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg';
    const d = 'q3Zx9Lw-PmK_2bVtR8nYh4JcD1sFgA0eUoIi5kE7rTy';
    const secrets = secretVariants([token, d]);
    const dotted = token.replaceAll('.', '%2E');
    expect(scrub(`{"unknown":"${dotted}"}`, secrets)).not.toContain('c2lnbmF0dXJl');
    expect(scrub('/tmp/x?code%3DWXYZ-2345&a=1', [])).not.toContain('WXYZ-2345');
    expect(scrub('/tmp/ot-diag-code=ZXCV-BNMK', [])).toBe('/tmp/ot-diag-code=[redacted]');
    const slice = token.slice(30, 70);
    expect(scrub(`part: ${slice} end`, secrets)).toBe('part: [redacted] end');
    expect(scrub(`{"k":"x${d}"}`, secrets)).toBe('{"k":"x[redacted]"}');
    // Harmless text is left alone, escapes included.
    expect(scrub('GET /a%20b 15 chars: eyJhbGciOiJFUzI', secrets)).toBe('GET /a%20b 15 chars: eyJhbGciOiJFUzI');
  });

  it('finds the codes in a pairing-URI file', () => {
    expect(pairingCodesIn('consystence-edge://pair?cloud=x&code=7KQ4-MX29&edge=a\n')).toEqual(['7KQ4-MX29']);
  });
});
