/**
 * Offline-first boot (issue 5 §4): the edge pairs with a cloud whose host name resolves only inside a private
 * mount namespace (`unshare -m` + a bind-mounted /etc/hosts, the mechanism `ip netns exec` uses for
 * /etc/netns/<name>/hosts; the machine's own /etc/hosts is never touched). Then the cloud is stopped and the
 * edge runs outside that namespace, where the name does not resolve (`.invalid`, RFC 6761): it must still reach
 * the site server, and a failing token refresh must leave the MQTT session alone.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PASSWORD, DEMO_USERS, MockCloudClient } from '../../../src/mock/cloud/index.js';
import { startEntry } from '../../helpers/process.js';
import { tempDir } from '../../helpers/tmp.js';
import type { CloudProcess } from '../support/cloud.js';
import { testEdge } from '../support/edge.js';

const HOST = 'cloud-offline.invalid';
const hostsDir = tempDir('cst-hosts-');
const hostsFile = join(hostsDir, 'hosts');
writeFileSync(hostsFile, `127.0.0.1 localhost\n127.0.0.1 ${HOST}\n`);
/** Runs a command with `HOST` resolving to loopback, for that process only. */
const withHosts = ['unshare', '-m', 'sh', '-c', 'mount --bind "$0" /etc/hosts && exec "$@"', hostsFile];

const namespacesWork = (() => {
  try {
    return execFileSync(withHosts[0]!, [...withHosts.slice(1), 'getent', 'hosts', HOST], { encoding: 'utf8' }).includes(
      '127.0.0.1',
    );
  } catch {
    return false;
  }
})();
if (!namespacesWork)
  process.stdout.write('offline-boot test skipped: unshare -m with a bind mount needs root (CAP_SYS_ADMIN)\n');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
      .listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      })
      .on('error', reject);
  });
}

describe.skipIf(!namespacesWork)('offline-first boot', () => {
  let cloud: CloudProcess;
  beforeAll(async () => {
    const port = await freePort();
    const child = startEntry('node', 'src/mock/cloud/main.ts', [
      '--port',
      String(port),
      '--public-url',
      `http://${HOST}:${port}`,
      '--edge-token-ttl',
      '60',
    ]);
    await child.waitForLine((l) => l.event === 'listening', 30_000);
    const url = `http://127.0.0.1:${port}`;
    const admin = new MockCloudClient(url);
    await admin.login(DEMO_USERS.admin, DEMO_PASSWORD);
    cloud = { child, url, admin };
  });
  afterAll(async () => {
    await cloud?.child.kill('SIGKILL');
  });

  it('with the cloud stopped and its name not resolving, a paired edge boots and reaches the site server', async () => {
    const edge = await testEdge(cloud, 'bun', 'offline');
    const paired = await edge.pair(withHosts);
    expect(paired.code, paired.stderr).toBe(0);
    expect(paired.stdout).toContain(HOST);
    await cloud.child.kill('SIGKILL');

    const child = edge.run();
    const online = await edge.site.waitForPresence(edge.edgeId, (p) => p.state === 'online', 30_000);

    // A refresh now fails (no DNS, no cloud): the command reports it, the session is not touched.
    const rotate = await edge.site.api('POST', `/edges/${edge.edgeId}/commands`, {
      name: 'rotate-token',
      timeoutMs: 20_000,
    });
    expect(rotate.status).toBe(200);
    expect(rotate.body.result).toMatchObject({ ok: false });
    expect(child.stderr.some((l) => l.includes('"token_refresh_failed"'))).toBe(true);
    const ping = await edge.site.api('POST', `/edges/${edge.edgeId}/commands`, { name: 'ping', timeoutMs: 10_000 });
    expect(ping.body.result).toMatchObject({ ok: true });
    expect((await edge.site.edge(edge.edgeId))!.presence).toMatchObject({
      state: 'online',
      since: online.presence.since,
    });

    // The cloud out of reach is a warning on an offline site, not a failure: doctor exits 0.
    const doctorRun = await edge.cli(['doctor', '--json']);
    const doctor = JSON.parse(doctorRun.stdout) as { checks: Array<{ name: string; level: string; detail: string }> };
    expect(doctor.checks.find((c) => c.name === 'cloud')).toMatchObject({ level: 'warn' });
    expect(doctor.checks.find((c) => c.name === 'site-server')).toMatchObject({ level: 'ok' });
    expect(doctorRun.code).toBe(0);
    await child.kill('SIGTERM');
  }, 60_000);
});
