/**
 * The token lifecycle end to end (issue 5 §6): a token that expired while the device was away is refreshed with
 * the device-key assertion and the edge comes back online; a revocation in the cloud reaches the edge through the
 * site server's refresh period, the edge stops with state `revoked`, and `status` says a new pairing is needed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/wait.js';
import { DEMO_ORG_ID, startCloudProcess, type CloudProcess } from '../support/cloud.js';
import { testEdge } from '../support/edge.js';

describe('edge token lifecycle', () => {
  let cloud: CloudProcess;
  beforeAll(async () => {
    cloud = await startCloudProcess(['--edge-token-ttl', '60']);
  });
  afterAll(async () => {
    await cloud?.child.kill('SIGKILL');
  });

  it('a token that expired while offline is refreshed with the device key; the edge comes back online', async () => {
    const edge = await testEdge(cloud, 'bun', 'expired');
    // A clock fault at pairing: the cloud's time is two hours behind, so the 60 s token it issues expired long ago
    // by the site server's clock, exactly as after two hours without power or network.
    await cloud.admin.setClock(-7200);
    const paired = await edge.pair();
    await cloud.admin.setClock(0);
    expect(paired.code, paired.stderr).toBe(0);

    const child = edge.run();
    await edge.site.waitForPresence(edge.edgeId, (p) => p.state === 'online', 30_000);
    // Refreshed either when the broker refused the expired token or, first, by the token manager at start (an
    // expired token is due at once): which one wins is a race, and both prove the device key refreshed it.
    expect(
      child.stderr.some((l) => l.includes('"token_refreshed"') && /connack-refused|proactive/.test(l)),
      child.stderr.slice(-10).join('\n'),
    ).toBe(true);
    expect(await edge.status()).toMatchObject({ state: 'online', tokenExpired: false });
    await child.kill('SIGTERM');
  }, 60_000);

  it('revoked in the cloud → the site server closes the session, the edge stops as revoked and asks for a new pairing', async () => {
    const edge = await testEdge(cloud, 'node', 'revoked');
    const paired = await edge.pair();
    expect(paired.code, paired.stderr).toBe(0);
    const child = edge.run();
    await edge.site.waitForPresence(edge.edgeId, (p) => p.state === 'online', 30_000);

    await cloud.admin.revokeEdge(DEMO_ORG_ID, edge.siteId, edge.edgeId);
    const exit = await Promise.race([child.exited, new Promise<null>((r) => setTimeout(() => r(null), 30_000))]);
    expect(exit, `the edge did not stop:\n${child.stderr.slice(-10).join('\n')}`).toMatchObject({ code: 7 });
    expect(child.lines.some((l) => l.event === 'revoked')).toBe(true);
    const status = await edge.status();
    expect(status).toMatchObject({
      state: 'revoked',
      lastError: 'this device was removed from its site (revoked); a new pairing is needed',
      next: expect.stringMatching(/new pairing/),
    });
    const text = await edge.cli(['status']);
    expect(text.stdout).toMatch(/last error: +this device was removed from its site \(revoked\); a new pairing/);
    const doctor = await edge.cli(['doctor']);
    expect(doctor.stdout).toMatch(/removed from its site \(noticed at \d{4}-/);
    await waitFor(async () => (await edge.site.edge(edge.edgeId))?.presence.state === 'offline', {
      what: 'offline at the site server',
    });
    // It stays down: a restart refuses to run instead of hammering the broker.
    const again = await edge.cli(['run', '--producer-port', 'off', '--pairing-uri-file', '/nonexistent']);
    expect(again.code).toBe(7);
    expect(again.stderr).toMatch(/pair it again/);
  }, 60_000);
});
