/**
 * `consystence-edge register` end to end with the real mocks: the mock cloud, the mock site server as a child
 * process (its edge port, its fingerprint from its ready line) and the device CLI as a child process.
 *
 * Connected: the site server relays to the cloud, the cloud binds the licence; a key bound to other hardware and an
 * unknown key are refused with the cloud's codes. Air-gapped: the cloud process stopped and its host unresolvable,
 * the site server decides with the offline licence file the cloud exported; the device verifies the chain with the
 * built-in licence key, comes online at the site server's broker with the site-issued token, renews it at the site
 * server, and once the cloud is back the site server's report puts the device in the cloud's edge list.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/common/log/log.js';
import { LICENCE_KEY_ENV } from '../../../src/edge/cli/secret-input.js';
import { createEdgeRuntime } from '../../../src/edge/runtime.js';
import { TokenManager } from '../../../src/edge/session/token-manager.js';
import { edgeFetchFor } from '../../../src/edge/site-server/site-registration-store.js';
import {
  DEMO_LICENCE_KEYS,
  DEMO_ORG_ID,
  DEMO_PASSWORD,
  DEMO_USERS,
  MockCloudClient,
  startMockCloud,
} from '../../../src/mock/cloud/index.js';
import { freePort } from '../../helpers/mosquitto.js';
import { commandFor, runToEnd, startEntry } from '../../helpers/process.js';
import { tempDir, testHardwareId } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

const SITE_SERVER = 'src/mock/site-server/main.ts';
const [K1, K2] = DEMO_LICENCE_KEYS as [string, string];
const cli = commandFor('node', 'src/edge/main.ts');
const quiet = createLogger({ level: 'error', write: () => {} });

async function startCloud(dbPath: string, port: number) {
  const cloud = await startMockCloud({ dbPath, port });
  const admin = new MockCloudClient(cloud.url);
  admin.setControlToken(cloud.controlToken);
  await admin.login(DEMO_USERS.admin, DEMO_PASSWORD);
  return { ...cloud, admin };
}

/** A site with its server's arguments (edge port fixed, so a restart keeps the address the device pinned). */
async function siteFor(cloud: Awaited<ReturnType<typeof startCloud>>, dir: string) {
  const slug = `s-${randomUUID().slice(0, 8)}`;
  const site = await cloud.admin.createSite(DEMO_ORG_ID, { name: slug, slug, timezone: 'Australia/Perth' });
  const [mqttPort, edgePort] = [await freePort(), await freePort()];
  const args = (cloudUrl: string) => [
    ...['--cloud', cloudUrl, '--org', DEMO_ORG_ID, '--site', site.id, '--mqtt-port', String(mqttPort)],
    ...['--http-port', '0', '--edge-port', String(edgePort), '--db', join(dir, 'site.db')],
    ...['--hardware-id', testHardwareId('site'), '--refresh-seconds', '1'],
  ];
  const { code } = await cloud.admin.createPairingCode(DEMO_ORG_ID, site.id, { purpose: 'server' });
  return { site, args, code };
}

function register(
  ready: Record<string, unknown>,
  device: { dir: string; hardwareId: string; edgeId: string },
  licenceKey: string,
  extra: string[] = [],
) {
  return runToEnd(
    cli.command,
    [
      ...cli.args,
      'register',
      '--json',
      ...['--state-dir', device.dir, '--hardware-id', device.hardwareId, '--edge-id', device.edgeId],
      ...['--site-server', String(ready.edgeUrl), '--site-server-fingerprint', String(ready.fingerprint)],
      ...extra,
    ],
    { env: { [LICENCE_KEY_ENV]: licenceKey }, timeoutMs: 90_000 },
  );
}

const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
const newDevice = (edgeId: string) => ({ dir: tempDir('cst-e2e-edge-'), hardwareId: testHardwareId(edgeId), edgeId });

describe('register through the real mock site server', () => {
  it('connected: the cloud binds the licence through the relay; bound and unknown keys are refused', async () => {
    const dir = tempDir('cst-e2e-connected-');
    const cloud = await startCloud(join(dir, 'cloud.db'), 0);
    try {
      const { site, args, code } = await siteFor(cloud, dir);
      const server = startEntry('node', SITE_SERVER, args(cloud.url), { env: { CONSYSTENCE_SITE_CODE: code } });
      const ready = await server.waitForLine((l) => l.event === 'listening', 60_000);
      try {
        const north = newDevice('e2e-north');
        const ok = await register(ready, north, K1);
        expect(ok.code, ok.stderr).toBe(0);
        expect(lastJson(ok.stdout)).toMatchObject({ registered: true, edgeId: 'e2e-north', siteId: site.id });
        const { licences } = await cloud.admin.listLicences(DEMO_ORG_ID);
        expect(licences.find((l) => l.key === K1)?.binding).toMatchObject({ edgeId: 'e2e-north', siteId: site.id });
        const status = JSON.parse(
          (await runToEnd(cli.command, [...cli.args, 'status', '--json', '--state-dir', north.dir])).stdout,
        );
        expect(status).toMatchObject({
          registeredVia: 'site-connected',
          tokenIssuer: cloud.url,
          siteServerFingerprint: ready.fingerprint,
          offlineLicence: null,
        });
        expect(status.siteServerUrl).toMatch(/^https:\/\//);

        const bound = await register(ready, newDevice('e2e-other'), K1);
        expect(bound.code).toBe(3);
        expect(lastJson(bound.stdout)).toMatchObject({ registered: false, error: { cloudCode: 'LICENCE_BOUND' } });
        expect(bound.stderr).toContain('already bound to another device');

        const unknown = await register(ready, newDevice('e2e-unknown'), 'CST-EDGE-ZZZZ-ZZZZ-ZZZZ');
        expect(unknown.code).toBe(3);
        expect(lastJson(unknown.stdout)).toMatchObject({ error: { cloudCode: 'LICENCE_INVALID' } });
        for (const result of [ok, bound, unknown]) expect(`${result.stdout}${result.stderr}`).not.toContain(K1);
      } finally {
        await server.kill('SIGTERM');
      }
    } finally {
      await cloud.close();
    }
  });

  it('the cloud binds but its answer is lost: the outcome is unknown, the request stays pending, no second licence', async () => {
    const dir = tempDir('cst-e2e-lost-');
    const cloud = await startCloud(join(dir, 'cloud.db'), 0);
    try {
      const { args, code } = await siteFor(cloud, dir);
      const server = startEntry('node', SITE_SERVER, args(cloud.url), { env: { CONSYSTENCE_SITE_CODE: code } });
      const ready = await server.waitForLine((l) => l.event === 'listening', 60_000);
      try {
        const device = newDevice('e2e-lost');
        const route = 'POST /api/organisations/*/sites/*/register-edge';
        await cloud.admin.faults.set({ type: 'drop-after-commit', route, times: 2 });
        const lost = await register(ready, device, K1, ['--max-attempts', '2']);
        expect(lost.code, lost.stderr).toBe(4);
        expect(lost.stderr).toContain('may already be bound');
        expect(lost.stderr).not.toMatch(/nothing (is|was) (bound|saved)/);
        // The retry line is in the site server's words: the device talks to the site server, not the cloud.
        expect(lost.stdout).toContain("the site server did not get the Consystence cloud's answer");
        expect(lost.stdout).not.toMatch(
          /reach the cloud|the cloud did not answer|connection to the cloud|the cloud is busy/,
        );
        const bindingOf = async (key: string) =>
          (await cloud.admin.listLicences(DEMO_ORG_ID)).licences.find((l) => l.key === key)?.binding;
        expect(await bindingOf(K1)).toMatchObject({ edgeId: 'e2e-lost' });

        // Another key on the same device is refused while the first request is pending: no second licence.
        const other = await register(ready, device, K2);
        expect(other.code).not.toBe(0);
        expect(other.stderr).toContain(
          `interrupted register with the site server ${String(ready.edgeUrl)} for edge e2e-lost`,
        );
        expect(await bindingOf(K2)).toBeFalsy();

        // The same command finishes it: the cloud replays its answer to the same Idempotency-Key.
        await cloud.admin.faults.reset();
        const again = await register(ready, device, K1);
        expect(again.code, again.stderr).toBe(0);
        expect(await bindingOf(K1)).toMatchObject({ edgeId: 'e2e-lost' });
        expect(await bindingOf(K2)).toBeFalsy();
      } finally {
        await server.kill('SIGTERM');
      }
    } finally {
      await cloud.close();
    }
  });

  it('air-gapped: registered with the cloud gone, online with the site-issued token, renewed at the site server, reported later', async () => {
    const dir = tempDir('cst-e2e-airgap-');
    const cloudDb = join(dir, 'cloud.db');
    const cloudPort = await freePort();
    let cloud = await startCloud(cloudDb, cloudPort);
    const { site, args, code } = await siteFor(cloud, dir);
    // Connected once, so the cloud knows the server's signing key; then the admin exports the licence file.
    const connected = startEntry('node', SITE_SERVER, args(cloud.url), { env: { CONSYSTENCE_SITE_CODE: code } });
    await connected.waitForLine((l) => l.event === 'listening', 60_000);
    const { licenceFile } = await cloud.admin.exportOfflineLicence(DEMO_ORG_ID, site.id, { licenceKeys: [K2] });
    const licencePath = join(dir, 'site.licence');
    writeFileSync(licencePath, licenceFile, { mode: 0o600 });
    await connected.kill('SIGTERM');
    await cloud.close();

    // The cloud process is stopped and its host does not resolve.
    let server = startEntry('node', SITE_SERVER, [
      ...args(`http://cloud.invalid:${cloudPort}`),
      '--licence-file',
      licencePath,
    ]);
    let ready = await server.waitForLine((l) => l.event === 'listening', 90_000);
    const device = newDevice('e2e-gapped');
    try {
      const result = await register(ready, device, K2);
      expect(result.code, result.stderr).toBe(0);
      const status = JSON.parse(
        (await runToEnd(cli.command, [...cli.args, 'status', '--json', '--state-dir', device.dir])).stdout,
      );
      expect(status).toMatchObject({ registeredVia: 'site-air-gapped', tokenIssuer: `site:${site.id}` });
      // The device never measured its clock against the cloud: status and doctor speak of the site server.
      const text = (await runToEnd(cli.command, [...cli.args, 'status', '--state-dir', device.dir])).stdout;
      expect(text).toMatch(/clock: +.*the site server/);
      expect(text).not.toMatch(/the cloud/);
      const doctor = await runToEnd(cli.command, [...cli.args, 'doctor', '--state-dir', device.dir]);
      expect(doctor.stdout).toMatch(/clock.*the site server/);
      expect(doctor.stdout).not.toMatch(/cloud unreachable|the cloud is reachable|from the cloud|portal/);

      // The token is renewed at the site server, over the pinned connection, and verified with the licence's key.
      const runtime = await createEdgeRuntime({ stateDir: device.dir, hardwareId: device.hardwareId, logger: quiet });
      try {
        const before = runtime.state.registration.get()!.edgeToken;
        const tokens = new TokenManager({
          state: runtime.state,
          clock: runtime.clock,
          fetch: edgeFetchFor(runtime.state.db),
          hardwareId: runtime.hardwareId,
          logger: quiet,
          onRevoked: () => {},
        });
        expect((await tokens.refresh('test')).edgeToken).not.toBe(before);
      } finally {
        runtime.close();
      }

      // The site server's broker admits the site-issued token.
      const edge = startEntry('node', 'src/edge/main.ts', [
        ...['run', '--json', '--state-dir', device.dir, '--hardware-id', device.hardwareId],
        ...[
          '--pairing-uri-file',
          join(dir, 'none'),
          '--registration-file',
          join(dir, 'none'),
          '--producer-port',
          'off',
        ],
      ]);
      await edge.waitForLine((l) => l.event === 'state' && l.state === 'online', 60_000);
      await edge.kill('SIGTERM');

      // The cloud is back: the site server reports the binding and the device is in the cloud's edge list.
      await server.kill('SIGTERM');
      cloud = await startCloud(cloudDb, cloudPort);
      server = startEntry('node', SITE_SERVER, [...args(cloud.url), '--licence-file', licencePath]);
      ready = await server.waitForLine((l) => l.event === 'listening', 90_000);
      const edges = await waitFor(
        async () => {
          const list = await cloud.admin.listEdges(DEMO_ORG_ID, site.id);
          return list.some((e) => e.edgeId === 'e2e-gapped') ? list : undefined;
        },
        { timeoutMs: 30_000, what: 'the device in the cloud edge list' },
      );
      expect(edges.find((e) => e.edgeId === 'e2e-gapped')?.status).toBe('active');
    } finally {
      await server.kill('SIGTERM');
      await cloud.close();
    }
  });
});
