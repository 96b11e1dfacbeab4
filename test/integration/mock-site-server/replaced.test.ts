/**
 * A site server whose registration was replaced says so (issue 12 item 9): in `/health`, in its log and in its exit
 * status, and it admits no edge afterwards. A cloud that refuses the server's token is told apart from one that
 * cannot be reached. A server restarted under its --db on another port registers the new endpoints itself (17.5).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/common/log/log.js';
import { DEMO_PASSWORD, DEMO_USERS, MockCloudClient } from '../../../src/mock/cloud/index.js';
import { freePort } from '../../helpers/mosquitto.js';
import { startEntry } from '../../helpers/process.js';
import { tempDir, testHardwareId } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { api, connectEdge, refusalCode, startCloudSite, startSiteServer } from './helpers/site.js';

const ENTRY = 'src/mock/site-server/main.ts';

describe('a replaced site server', () => {
  it('reports replaced in /health, drops and refuses its edges, and tells its listeners', async () => {
    const site = await startCloudSite();
    const first = await startSiteServer(site, { hardwareId: testHardwareId('first') });
    const edge = await site.pairEdge('orin-replaced');
    const client = await connectEdge(first.mqttUrl, edge);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    const told: string[] = [];
    first.onReplaced((message) => told.push(message));
    expect((await api(first.httpUrl, 'GET', '/health')).body.cloud.state).toBe('ok');

    await startSiteServer(site, { hardwareId: testHardwareId('second') });

    const health = await waitFor(
      async () => {
        const answer = await api(first.httpUrl, 'GET', '/health');
        return answer.body.status === 'replaced' ? answer : undefined;
      },
      { what: '/health to say replaced' },
    );
    expect(health.status).toBe(503);
    expect(health.body.cloud).toMatchObject({
      state: 'replaced',
      lastError: expect.stringMatching(/SITE_SERVER_REPLACED/),
    });
    expect(told).toHaveLength(1);
    await closed;
    expect(await refusalCode(connectEdge(first.mqttUrl, edge))).toBe(3);
  });

  it('the CLI prints REPLACED and exits 10', async () => {
    const site = await startCloudSite();
    const child = startEntry(
      'node',
      ENTRY,
      [
        ...['--cloud', site.cloudUrl, '--org', site.orgId, '--site', site.siteId],
        ...['--mqtt-port', '0', '--http-port', '0', '--refresh-seconds', '1', '--hardware-id', testHardwareId('cli-a')],
        ...['--replaced-linger-seconds', '3'],
      ],
      { env: { CONSYSTENCE_SITE_CODE: await site.serverCode() } },
    );
    const ready = await child.waitForLine((l) => l.event === 'listening', 30_000);
    await startSiteServer(site, { hardwareId: testHardwareId('cli-b') });
    // While it lingers, a monitoring probe sees why it is going away, not a bare connection refused.
    const health = await waitFor(
      async () => {
        const answer = await api(String(ready.httpUrl), 'GET', '/health');
        return answer.body.status === 'replaced' ? answer : undefined;
      },
      { what: '/health to say replaced', timeoutMs: 20_000 },
    );
    expect(health.status).toBe(503);
    const exit = await Promise.race([
      child.exited,
      new Promise((_, reject) => setTimeout(() => reject(new Error('no exit within 30 s')), 30_000)),
    ]);
    expect(exit).toMatchObject({ code: 10 });
    const stderr = child.stderr.join('\n');
    expect(stderr).toMatch(/REPLACED/);
    expect(stderr).toMatch(/site_server_replaced/);
  });
});

describe('cloud refused versus cloud unreachable', () => {
  it('a refused site token is degraded and logged as refused; an unreachable cloud keeps the site ok', async () => {
    const lines: string[] = [];
    const refusedSite = await startCloudSite();
    const refused = await startSiteServer(refusedSite, {}, createLogger({ write: (line) => lines.push(line) }));
    // Deleting the site (owner only) revokes its server: the cloud answers, and refuses the token.
    const owner = new MockCloudClient(refusedSite.cloudUrl);
    await owner.login(DEMO_USERS.owner, DEMO_PASSWORD);
    await owner.deleteSite(refusedSite.orgId, refusedSite.siteId);
    const health = await waitFor(
      async () => {
        const answer = await api(refused.httpUrl, 'GET', '/health');
        return answer.body.cloud.state === 'refused' ? answer : undefined;
      },
      { what: '/health to say refused' },
    );
    expect([health.status, health.body.status]).toEqual([503, 'degraded']);
    // The log says what happened: the cloud answered and refused, not that it could not be reached.
    expect(lines.some((l) => l.includes('cloud_refused_site_token'))).toBe(true);
    expect(lines.some((l) => l.includes('"cloud_unreachable"'))).toBe(false);

    const downSite = await startCloudSite();
    const downLines: string[] = [];
    const down = await startSiteServer(downSite, {}, createLogger({ write: (line) => downLines.push(line) }));
    await downSite.stopCloud();
    const offline = await waitFor(
      async () => {
        const answer = await api(down.httpUrl, 'GET', '/health');
        return answer.body.cloud.state === 'unreachable' ? answer : undefined;
      },
      { what: '/health to say unreachable' },
    );
    expect([offline.status, offline.body.status]).toEqual([200, 'ok']);
    expect(downLines.some((l) => l.includes('"cloud_unreachable"'))).toBe(true);
    expect(downLines.some((l) => l.includes('cloud_refused_site_token'))).toBe(false);
  });
});

describe('a site server that moved', () => {
  it('registers its new port with the cloud at the next start under the same --db; new edges are sent there', async () => {
    const site = await startCloudSite();
    const db = join(tempDir('cst-site-move-'), 'site.db');
    const hardwareId = testHardwareId('moving');
    const before = await startSiteServer(site, {
      db,
      hardwareId,
      code: await site.serverCode(),
      mqttPort: await freePort(),
    });
    await before.close();
    const after = await startSiteServer(site, { db, hardwareId, mqttPort: await freePort() });
    expect(after.mqttUrl).not.toBe(before.mqttUrl);
    const edge = await site.pairEdge('orin-after-move');
    expect(edge.mqttUrl).toBe(after.mqttUrl);
    // The moved server kept its registration (the same site token): it admits the edge and the cloud accepts it.
    expect(await refusalCode(connectEdge(after.mqttUrl, edge))).toBe(0);
    expect((await api(after.httpUrl, 'GET', '/health')).body.cloud.state).toBe('ok');
  });
});
