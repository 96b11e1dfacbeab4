/** The default support-bundle file name: a secret-shaped host name must not end up in it. */
import { describe, expect, it } from 'vitest';
import { defaultBundleName } from '../../../../src/edge/cli/support-bundle.js';

describe('default bundle file name', () => {
  const now = new Date('2026-11-26T10:00:00.000Z');

  it('names the host and the time in a safe charset', () => {
    expect(defaultBundleName('orin-1.local', now)).toBe(
      'consystence-edge-support-orin-1-local-2026-11-26T10-00-00-000Z.tar.gz',
    );
    expect(defaultBundleName('a/../b\u001b', now)).toMatch(/^consystence-edge-support-a-b-2026[\w-]+\.tar\.gz$/);
  });

  it('leaves out a secret-shaped host name (a JWT, a pairing code, either percent-encoded)', () => {
    const jwt = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    for (const host of [jwt, jwt.replaceAll('.', '%2E'), 'pair-code=WXYZ-2345', 'code%3DWXYZ-2345']) {
      const name = defaultBundleName(host, now);
      expect(name, host).not.toMatch(/eyJ|c2lnbmF0dXJl|WXYZ/);
      expect(name).toMatch(/^[A-Za-z0-9.-]+$/);
    }
  });
});
