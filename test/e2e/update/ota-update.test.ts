/**
 * An over-the-air update end to end with real processes: the mock cloud (platform admin uploads a bundle signed
 * with the development key, the site admin approves a campaign), the mock site server (fetches, verifies, offers
 * on P/update, serves the artifact with Range), and a paired `run` child that downloads, installs, exits 75; the
 * "new version" (the same code with CONSYSTENCE_EDGE_DEV_VERSION, as there is no second build from source) starts
 * on trial, holds online for its window and commits, and the cloud shows `succeeded` for the edge.
 */
import { readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { DEMO_PASSWORD, DEMO_PLATFORM_ADMIN, MockCloudClient } from '../../../src/mock/cloud/index.js';
import { waitFor } from '../../helpers/wait.js';
import { makeBundle } from '../../integration/mock-site-server/helpers/updates.js';
import { DEMO_ORG_ID, startCloudProcess } from '../support/cloud.js';
import { testEdge } from '../support/edge.js';

const previousEnv = process.env.CONSYSTENCE_EDGE_DEV_VERSION;
afterAll(() => {
  if (previousEnv === undefined) delete process.env.CONSYSTENCE_EDGE_DEV_VERSION;
  else process.env.CONSYSTENCE_EDGE_DEV_VERSION = previousEnv;
});

it(`approve → download, install, exit 75 → the new version on trial commits and the cloud shows succeeded`, async () => {
  const cloud = await startCloudProcess();
  const edge = await testEdge(cloud, 'node', 'ota');
  expect((await edge.pair()).code).toBe(0);
  const first = edge.run();
  await edge.site.waitForPresence(edge.edgeId, (p) => p.state === 'online', 60_000);

  const platform = new MockCloudClient(cloud.url);
  await platform.login(DEMO_PLATFORM_ADMIN, DEMO_PASSWORD);
  const release = await makeBundle('99.0.0', { bytes: 512 * 1024 });
  const releaseId = (await platform.uploadRelease(release.path)).id;
  const campaign = await cloud.admin.createCampaign(DEMO_ORG_ID, edge.siteId, { releaseId, edges: [edge.edgeId] });

  const exit = await waitFor(() => (first.proc.exitCode !== null ? { code: first.proc.exitCode } : null), {
    timeoutMs: 90_000,
    what: 'the service to exit for the update',
  });
  expect(exit.code).toBe(75);
  expect(readlinkSync(join(edge.stateDir, 'releases/current'))).toBe('99.0.0');
  const trialFile = join(edge.stateDir, 'update/trial');
  expect(readFileSync(trialFile, 'utf8')).toContain('version=99.0.0');
  // A short trial window (the launcher would read the same record).
  writeFileSync(trialFile, readFileSync(trialFile, 'utf8').replace(/window_s=\d+/, 'window_s=2'));

  process.env.CONSYSTENCE_EDGE_DEV_VERSION = '99.0.0';
  const second = edge.run();
  delete process.env.CONSYSTENCE_EDGE_DEV_VERSION;
  const progress = await waitFor(
    async () =>
      (await cloud.admin.getCampaign(DEMO_ORG_ID, edge.siteId, campaign.id)).progress.find(
        (p) => p.edgeId === edge.edgeId && p.state === 'succeeded',
      ),
    { timeoutMs: 90_000, intervalMs: 500, what: 'the cloud to show the edge succeeded' },
  );
  expect(progress.runningVersion).toBe('99.0.0');
  expect(readFileSync(join(edge.stateDir, 'update/last-trial'), 'utf8')).toContain('version=99.0.0');
  const { code } = await second.kill('SIGTERM');
  expect(code).toBe(0);
}, 300_000);
