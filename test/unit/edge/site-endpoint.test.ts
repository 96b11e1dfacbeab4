/** Outside test item 8: the endpoint line says plain MQTT is unencrypted, instead of naming a CA it never uses. */
import { describe, expect, it } from 'vitest';
import { describeSiteEndpoint } from '../../../src/edge/status/site-endpoint.js';

const base = { trial: false, caFingerprints: [], candidateUrl: null, fallbackUrl: null };

describe('describeSiteEndpoint', () => {
  it('says "unencrypted, no TLS" for mqtt://', () => {
    const line = describeSiteEndpoint({ ...base, mqttUrl: 'mqtt://10.0.0.5:1883' });
    expect(line).toContain('mqtt://10.0.0.5:1883 unencrypted, no TLS');
    expect(line).not.toMatch(/CA/);
  });

  it('names the trusted CA, or the system store, for mqtts://', () => {
    expect(describeSiteEndpoint({ ...base, mqttUrl: 'mqtts://site:8883' })).toContain(
      'trusting the system CA store (no site CA delivered)',
    );
    expect(describeSiteEndpoint({ ...base, mqttUrl: 'mqtts://site:8883', caFingerprints: ['ab:cd'] })).toContain(
      'trusting CA ab:cd',
    );
  });
});
