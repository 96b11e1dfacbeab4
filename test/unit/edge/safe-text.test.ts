/** Network text made printable; durations and skew for people; a URI cut by the shell recognised. */
import { describe, expect, it } from 'vitest';
import { describeCloudError } from '../../../src/edge/cloud-client/messages.js';
import { describeSkew, humanDuration } from '../../../src/edge/human-time.js';
import { shellCutHint } from '../../../src/edge/pairing/inputs.js';
import { printable } from '../../../src/common/text/safe-text.js';

describe('printable', () => {
  it('removes ANSI sequences, CR/LF and other C0/C1 controls, and bidi overrides', () => {
    const fake =
      'denied\u001b[1A\u001b[2K\r  ok: registered\n  ok: paired\u001b]0;title\u0007\u009b31m\u202eevil\u2066';
    const clean = printable(fake, 1000);
    expect(clean).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    expect(clean).toBe('denied???  ok: registered?  ok: paired???evil?');
  });

  it('caps long text and says how much was left out', () => {
    expect(printable('x'.repeat(60_000), 10)).toBe(`${'x'.repeat(10)}… (59990 more characters)`);
    expect(printable('short')).toBe('short');
  });

  it("is applied to the cloud's own words", () => {
    expect(describeCloudError('TEAPOT', 'no\u001b[2K\rok: paired', 418)).toBe(
      'the cloud refused the request (HTTP 418 TEAPOT): no??ok: paired',
    );
  });
});

describe('durations for people', () => {
  it('prints skew in the unit that reads best, and which way', () => {
    expect(describeSkew(1_795_000_000_000)).toBe('56.9 years behind the cloud');
    expect(describeSkew(-3_200)).toBe('3.2 s ahead of the cloud');
    expect(describeSkew(10)).toBe('in step with the cloud');
    expect(humanDuration(90 * 60_000)).toBe('90 min');
    expect(humanDuration(5 * 3_600_000)).toBe('5 h');
    expect(humanDuration(3 * 86_400_000)).toBe('3 days');
  });
});

describe('a pairing URI cut by the shell at &', () => {
  const org = '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0c11';
  it('is recognised when only cloud=, or cloud= and org=, arrived', () => {
    expect(shellCutHint('consystence-edge://pair?cloud=https%3A%2F%2Fc.example')).toMatch(
      /single quotes.*pair --uri -/,
    );
    expect(shellCutHint(`consystence-edge://pair?cloud=https%3A%2F%2Fc.example&org=${org}`)).toMatch(
      /no 'site=', 'code='/,
    );
  });
  it('is not claimed for a complete URI, a damaged one, or another scheme', () => {
    expect(shellCutHint(`consystence-edge://pair?cloud=x&org=${org}&site=${org}&code=7KQ4-MX29`)).toBeNull();
    expect(shellCutHint(`consystence-edge://pair?org=${org}&code=7KQ4-MX29`)).toBeNull();
    expect(shellCutHint('https://example.com/?cloud=x')).toBeNull();
  });
});
