import { describe, expect, it } from 'vitest';
import { parseCliArgs } from '../../../src/mock/site-server/cli-args.js';
import { SiteServerError } from '../../../src/mock/site-server/errors.js';
import { SiteServerOptions } from '../../../src/mock/site-server/options.js';

const ORG = '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0c11';
const SITE = '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0c12';
const base = ['--cloud', 'http://127.0.0.1:4000/', '--org', ORG, '--site', SITE];

describe('CLI flags', () => {
  it('maps flags to options with defaults and coerced numbers', () => {
    const parsed = parseCliArgs([...base, '--code', 'AB12-CD34', '--mqtt-port', '0', '--refresh-seconds', '5'], {});
    expect(parsed.help).toBe(false);
    const options = SiteServerOptions.parse((parsed as { options: unknown }).options);
    expect(options).toMatchObject({
      cloud: 'http://127.0.0.1:4000',
      code: 'AB12-CD34',
      mqttPort: 0,
      httpPort: 8080,
      refreshSeconds: 5,
      broker: 'embedded',
      db: ':memory:',
    });
  });

  it('takes secrets from the environment', () => {
    const parsed = parseCliArgs(base, { CONSYSTENCE_SITE_TOKEN: 'tok', CONSYSTENCE_BROKER_PASSWORD: 'pw' });
    expect((parsed as { options: Record<string, unknown> }).options).toMatchObject({
      token: 'tok',
      brokerPassword: 'pw',
    });
  });

  it('refuses unknown flags and missing required ones as usage errors', () => {
    for (const argv of [['--what'], ['--cloud', 'http://x'], [...base, 'positional']]) {
      expect(() => parseCliArgs(argv, {})).toThrow(SiteServerError);
    }
  });

  it('refuses inconsistent combinations', () => {
    const bad = [
      { code: 'a', token: 'b' },
      { broker: 'external' },
      { brokerUrl: 'mqtt://127.0.0.1:1883' },
      { broker: 'external', brokerUrl: 'http://127.0.0.1' },
      { mqttPort: 70000 },
      { refreshSeconds: 0 },
    ];
    for (const extra of bad)
      expect(SiteServerOptions.safeParse({ cloud: 'http://x', orgId: ORG, siteId: SITE, ...extra }).success).toBe(
        false,
      );
  });
});
