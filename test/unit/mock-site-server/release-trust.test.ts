import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { SiteServerError } from '../../../src/mock/site-server/errors.js';
import { ReleaseTrust } from '../../../src/mock/site-server/updates/release-trust.js';
import { BUILT_IN_RELEASE_KEYS } from '../../../src/protocol/built-in-release-keys.js';
import { tempDir } from '../../helpers/tmp.js';

describe('release keys of the site server', () => {
  it('trusts the built-in keys, plus those of --release-keys', async () => {
    expect(ReleaseTrust.load(undefined).keys).toEqual(BUILT_IN_RELEASE_KEYS.keys);
    const { publicKey } = await generateKeyPair('ES256', { extractable: true });
    const file = join(tempDir(), 'rig-keys.json');
    writeFileSync(file, JSON.stringify({ sequence: 0, keys: [{ kid: 'rig-1', jwk: await exportJWK(publicKey) }] }));
    expect(ReleaseTrust.load(file).keys.map((k) => k.kid)).toEqual([
      ...BUILT_IN_RELEASE_KEYS.keys.map((k) => k.kid),
      'rig-1',
    ]);
  });

  it('refuses a --release-keys file that is missing, not JSON or not a key set, as a usage error', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'text'), 'not json');
    writeFileSync(join(dir, 'wrong'), JSON.stringify({ keys: [] }));
    for (const file of [join(dir, 'absent'), join(dir, 'text'), join(dir, 'wrong')]) {
      const error = (() => {
        try {
          ReleaseTrust.load(file);
        } catch (caught) {
          return caught;
        }
      })();
      expect(error).toBeInstanceOf(SiteServerError);
      expect((error as SiteServerError).code).toBe('USAGE');
    }
  });
});
