/**
 * `consystence-hil run` attached to mocks that are already running (`--cloud-url`, `--site-url`): the site server's
 * control token comes from the environment. Without it the rig cannot drive the site server, which is the rig's
 * fault: an `<error>` at once that says which variable to set, never a device `<failure>` after a long wait.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runToEnd } from '../../helpers/process.js';
import { tempDir } from '../../helpers/tmp.js';
import { startCloudSite, startSiteServer } from '../mock-site-server/helpers/site.js';

describe('consystence-hil run attached to running mocks', () => {
  it('without the site control token: an <error> naming CONSYSTENCE_SITE_CONTROL_TOKEN, not a device failure', async () => {
    const site = await startCloudSite();
    const server = await startSiteServer(site);
    const dir = tempDir('cst-hil-attach-');
    const json = join(dir, 'summary.json');
    const env = { ...process.env, CONSYSTENCE_SITE_CONTROL_TOKEN: '' };
    const result = await runToEnd(
      process.execPath,
      [
        'src/hil/bin.mjs',
        'run',
        ...['--target', 'local-node', '--only', 'first-pairing', '--json', json, '--timeout-s', '120'],
        ...['--cloud-url', site.cloudUrl, '--site-url', server.httpUrl, '--org', site.orgId],
      ],
      { timeoutMs: 150_000, env },
    );
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(1);
    const summary = JSON.parse(readFileSync(json, 'utf8')) as {
      scenarios: Array<{ id: string; result: string; message?: string }>;
    };
    const first = summary.scenarios.find((s) => s.id === 'first-pairing')!;
    expect(first.result).toBe('error');
    expect(first.message).toMatch(/CONSYSTENCE_SITE_CONTROL_TOKEN/);
  }, 160_000);
});
