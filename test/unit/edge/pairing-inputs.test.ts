import { describe, expect, it } from 'vitest';
import { edgeIdFromHostname, normaliseCloudUrl, pairingInputFrom } from '../../../src/edge/pairing/inputs.js';
import { hardwareIdFromOverride } from '../../../src/edge/identity/hardware-id.js';
import { EdgeError } from '../../../src/edge/errors.js';

const ORG = '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0c11';
const SITE = '9b1d2c3e-4f5a-4b6c-8d7e-0f1a2b3c4d5e';
const URI = `consystence-edge://pair?cloud=${encodeURIComponent('https://cloud.example.com/')}&org=${ORG}&site=${SITE}&code=7kq4-mx29`;

function usageError(fn: () => unknown): EdgeError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(EdgeError);
    expect((error as EdgeError).exitCode).toBe(2);
    return error as EdgeError;
  }
  throw new Error('expected a usage error');
}

describe('pairing inputs', () => {
  it('parses a pairing URI and normalises cloud URL and code', () => {
    expect(pairingInputFrom({ uri: URI, edgeId: 'orin-1' })).toEqual({
      cloudUrl: 'https://cloud.example.com',
      orgId: ORG,
      siteId: SITE,
      code: '7KQ4MX29',
      edgeId: 'orin-1',
    });
  });

  it('takes the edge id from a URI minted for one device, and refuses a different --edge-id', () => {
    const pinned = `${URI}&edge=orin-north-07`;
    expect(pairingInputFrom({ uri: pinned }, 'some-host').edgeId).toBe('orin-north-07');
    expect(pairingInputFrom({ uri: pinned, edgeId: 'orin-north-07' }).edgeId).toBe('orin-north-07');
    expect(usageError(() => pairingInputFrom({ uri: pinned, edgeId: 'orin-1' })).message).toMatch(
      /made for the edge id orin-north-07/,
    );
    expect(usageError(() => pairingInputFrom({ uri: `${URI}&edge=Not_Valid` })).message).toMatch(/edge/);
  });

  it('accepts separate flags, and a licence key in any case', () => {
    const input = pairingInputFrom({
      cloud: 'http://127.0.0.1:4000',
      org: ORG,
      site: SITE,
      code: '7KQ4MX29',
      edgeId: 'e1',
      licenceKey: 'cst-edge-ab12-cd34-ef56',
    });
    expect(input).toMatchObject({ cloudUrl: 'http://127.0.0.1:4000', licenceKey: 'CST-EDGE-AB12-CD34-EF56' });
  });

  it('refuses bad URIs and flags with a message that never echoes the code', () => {
    expect(
      usageError(() => pairingInputFrom({ uri: 'https://evil.example/pair?code=7KQ4MX29' })).message,
    ).not.toContain('7KQ4');
    expect(usageError(() => pairingInputFrom({ uri: URI.replace(/code=[^&]+/, 'code=!!') })).message).toMatch(
      /incomplete or damaged/,
    );
    expect(usageError(() => pairingInputFrom({ uri: 'not a uri' })).message).toMatch(/not a URI/);
    expect(usageError(() => pairingInputFrom({ uri: URI, cloud: 'https://x' })).message).toMatch(/either --uri/);
    expect(usageError(() => pairingInputFrom({})).message).toMatch(/--uri/);
    expect(usageError(() => pairingInputFrom({ cloud: 'https://x', org: ORG })).message).toMatch(/--site, --code/);
    expect(
      usageError(() => pairingInputFrom({ cloud: 'ftp://x', org: ORG, site: SITE, code: '7KQ4MX29' })).message,
    ).toMatch(/https/);
    expect(
      usageError(() => pairingInputFrom({ cloud: 'https://x', org: 'acme', site: SITE, code: '7KQ4MX29' })).message,
    ).toMatch(/--org/);
    expect(
      usageError(() => pairingInputFrom({ cloud: 'https://x', org: ORG, site: SITE, code: 'short' })).message,
    ).toMatch(/--code/);
    expect(usageError(() => pairingInputFrom({ uri: URI, edgeId: 'Bad_Id' })).message).toMatch(/--edge-id/);
    expect(usageError(() => pairingInputFrom({ uri: URI, edgeId: 'e', licenceKey: 'nope' })).message).toMatch(
      /--licence-key/,
    );
    expect(usageError(() => normaliseCloudUrl('https://user:pw@x')).message).toMatch(/plain base URL/);
  });

  it('derives the default edge id from the host name', () => {
    expect(edgeIdFromHostname('Orin_North.01.mine.local')).toBe('orin-north');
    expect(edgeIdFromHostname('--JETSON--')).toBe('jetson');
    expect(edgeIdFromHostname('___')).toBe('edge');
    expect(edgeIdFromHostname('a'.repeat(100))).toHaveLength(63);
  });

  it('takes a 64-hex hardware id as is and hashes anything else', () => {
    const hex = 'AB'.repeat(32);
    expect(hardwareIdFromOverride(hex)).toBe(hex.toLowerCase());
    expect(hardwareIdFromOverride('rig-07')).toMatch(/^[0-9a-f]{64}$/);
    expect(hardwareIdFromOverride('rig-07')).not.toBe(hardwareIdFromOverride('rig-08'));
    usageError(() => hardwareIdFromOverride('   '));
  });
});
