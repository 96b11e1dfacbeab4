/**
 * The real `consystence-edge` (pair, then run, as child processes) against the mock site server: it pairs with
 * the cloud, reaches the site server at the endpoint the server registered, shows up online, applies a config
 * pushed through the control API and answers a `ping` command.
 */
import { PAIRING_URI_ENV } from '../../../src/edge/cli/secret-input.js';
import { describe, expect, it } from 'vitest';
import { startEntry } from '../../helpers/process.js';
import { tempDir, testHardwareId } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { api, startCloudSite, startSiteServer } from './helpers/site.js';

describe('real edge runtime against the mock site server', () => {
  it('pairs, connects, applies a config push and answers a command', async () => {
    const site = await startCloudSite();
    const server = await startSiteServer(site);
    const { pairingUri } = await site.admin.createPairingCode(site.orgId, site.siteId, { edgeId: 'orin-real' });
    const stateDir = tempDir('cst-edge-');
    const hw = testHardwareId('real-edge');
    const common = ['--state-dir', stateDir, '--hardware-id', hw, '--json'];

    const pair = startEntry('node', 'src/edge/main.ts', ['pair', '--edge-id', 'orin-real', ...common], {
      env: { [PAIRING_URI_ENV]: pairingUri },
    });
    expect((await pair.exited).code).toBe(0);
    const edge = startEntry('node', 'src/edge/main.ts', ['run', ...common]);
    await edge.waitForLine((l) => l.event === 'state' && l.state === 'online', 30_000);

    await waitFor(async () => (await api(server, 'GET', '/edges/orin-real')).body.presence?.state === 'online', {
      what: 'online at the site server',
    });
    const pushed = await api(server, 'POST', '/edges/orin-real/config', {
      config: { heartbeatSeconds: 15 },
      wait: true,
      timeoutMs: 15_000,
    });
    expect(pushed.status).toBe(200);
    expect(pushed.body.reported).toMatchObject({ version: pushed.body.version, status: 'applied' });
    const ping = await api(server, 'POST', '/edges/orin-real/commands', { name: 'ping', timeoutMs: 15_000 });
    expect(ping.status).toBe(200);
    expect(ping.body.result).toMatchObject({ id: ping.body.id, ok: true });

    expect((await edge.kill('SIGTERM')).code).toBe(0);
  });
});
