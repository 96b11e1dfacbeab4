import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

  it('maps the update flags: --data-dir and --release-keys', () => {
    const parsed = parseCliArgs([...base, '--data-dir', '/var/lib/site', '--release-keys', './rig-keys.json'], {});
    expect((parsed as { options: unknown }).options).toMatchObject({
      dataDir: '/var/lib/site',
      releaseKeys: './rig-keys.json',
    });
  });

  it('takes secrets from the environment', () => {
    const parsed = parseCliArgs(base, { CONSYSTENCE_SITE_TOKEN: 'tok', CONSYSTENCE_BROKER_PASSWORD: 'pw' });
    expect((parsed as { options: Record<string, unknown> }).options).toMatchObject({
      token: 'tok',
      brokerPassword: 'pw',
    });
  });

  it('reads secrets from --token-file, --code-file and --broker-password-file, and warns about the visible flags', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cst-site-args-'));
    const file = (name: string, text: string) => {
      writeFileSync(join(dir, name), text, { mode: 0o600 });
      return join(dir, name);
    };
    const fromFiles = parseCliArgs(
      [...base, '--token-file', file('token', 'tok-from-file\n'), '--broker-password-file', file('pw', 'pw\n')],
      { CONSYSTENCE_SITE_TOKEN: 'ignored' },
    ) as { options: Record<string, unknown>; warnings: string[] };
    expect(fromFiles.options).toMatchObject({ token: 'tok-from-file', brokerPassword: 'pw' });
    expect(fromFiles.warnings).toEqual([]);
    const fromCode = parseCliArgs([...base, '--code-file', file('code', 'AB12-CD34')], {}) as {
      options: Record<string, unknown>;
    };
    expect(fromCode.options.code).toBe('AB12-CD34');

    const visible = parseCliArgs([...base, '--token', 'tok'], {}) as { warnings: string[] };
    expect(visible.warnings).toEqual([expect.stringMatching(/--token shows the secret.*--token-file/)]);
    expect(() => parseCliArgs([...base, '--token', 't', '--token-file', file('t2', 't')], {})).toThrow(/not both/);
    symlinkSync(file('real', 'linked'), join(dir, 'link')); // mounted secrets are links: followed here
    expect(
      (parseCliArgs([...base, '--token-file', join(dir, 'link')], {}) as { options: { token: string } }).options.token,
    ).toBe('linked');
    expect(() => parseCliArgs([...base, '--token-file', dir], {})).toThrow(/not a regular file/);
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
