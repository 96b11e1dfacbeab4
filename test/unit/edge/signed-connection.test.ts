/** A site connection beside a refreshed token is believed only when the token's `cfg` claim signs it (issue 17). */
import { describe, expect, it } from 'vitest';
import { signedConnection } from '../../../src/edge/cloud-client/signed-connection.js';
import { createLogger } from '../../../src/common/log/log.js';
import { siteConnectionHash, type EdgeTokenClaims, type SiteConnection } from '../../../src/protocol/index.js';

const connection: SiteConnection = { url: 'http://10.0.0.9:8080', mqtt: { url: 'mqtt://10.0.0.9:1883' } };
const claims = (cfg?: string) => ({ ...(cfg ? { cfg } : {}) }) as EdgeTokenClaims;

describe('signedConnection', () => {
  const warnings: string[] = [];
  const logger = createLogger({ write: (line) => warnings.push(line) });

  it('accepts the connection whose hash the token carries', () => {
    expect(signedConnection(connection, claims(siteConnectionHash(connection)), logger)).toEqual(connection);
  });

  it('ignores a connection changed after signing, or one the token does not sign at all', () => {
    const tampered = { ...connection, mqtt: { url: 'mqtt://attacker.example:1883' } };
    expect(signedConnection(tampered, claims(siteConnectionHash(connection)), logger)).toBeUndefined();
    expect(signedConnection(connection, claims(), logger)).toBeUndefined();
    expect(warnings.filter((l) => l.includes('site_connection_unsigned'))).toHaveLength(2);
  });

  it('the hash does not depend on key order, and does depend on the CA bundle', () => {
    const reordered = JSON.parse('{"mqtt":{"url":"mqtt://10.0.0.9:1883"},"url":"http://10.0.0.9:8080"}');
    expect(siteConnectionHash(reordered)).toBe(siteConnectionHash(connection));
    const withCa = { ...connection, mqtt: { ...connection.mqtt, caCertificatePem: '-----BEGIN CERTIFICATE-----x' } };
    expect(siteConnectionHash(withCa)).not.toBe(siteConnectionHash(connection));
  });
});
