/**
 * Steps of the over-the-air update scenarios (ota-*): a release bundle of a second build signed with the
 * development key, uploaded by the platform admin, approved for this scenario's edge by the site admin, and the
 * device's `P/update/state` reports read back from the site server's control API (`GET /updates`).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../../common/process/process.js';
import { DEMO_PASSWORD, MockCloudClient } from '../../mock/cloud/index.js';
import { DEMO_PLATFORM_ADMIN } from '../../mock/cloud/seed.js';
import type { UpdateCampaignView } from '../bed/site-control.js';
import { REPO_ROOT } from '../targets/paths.js';
import { waitUntil } from '../util/wait.js';
import { check, checkEqual } from './errors.js';
import { HIL_BUILDS, type HilBuild } from './hil-builds.js';
import { pairDevice, waitPresence } from './steps.js';
import type { ScenarioContext } from './types.js';

export { HIL_BUILDS, type HilBuild } from './hil-builds.js';

const DEV_KEY = join(REPO_ROOT, 'keys/dev/release-signing.private.jwk');
const TSX = join(REPO_ROOT, 'node_modules/.bin/tsx');

/** The binary of a test build, or a skip naming the command that makes it. */
export function testBuild(ctx: ScenarioContext, build: HilBuild): string {
  const { version, suffix, faults } = HIL_BUILDS[build];
  const file = join(REPO_ROOT, `out/consystence-edge-linux-x64${suffix}`);
  if (!existsSync(file))
    ctx.skip(
      `${file} is missing: npm run build:binary -- --arch x64 --version ${version} --out-suffix ${suffix}${faults ? ` --hil-faults ${faults}` : ''}`,
    );
  return file;
}

/** The OTA scenarios drive the compiled binary through the launcher with restart-on-exit (local binary target). */
export function requireLauncherTarget(ctx: ScenarioContext): void {
  if (ctx.device.kind !== 'binary')
    ctx.skip(`needs --target binary: the device must run through the launcher (this is ${ctx.device.kind})`);
}

/**
 * The trial window the rig pushes (`update.trialSeconds`, the contract's minimum): a device's default of 120 s
 * would make every update scenario wait two minutes for a commit that proves nothing more.
 */
export const HIL_TRIAL_SECONDS = 10;

/**
 * Pairs, then runs the device as its unit does (launcher, restart on exit) until the site server sees it online,
 * and pushes the rig's short trial window (kept across the update's restart like any applied config).
 */
export async function pairAndRunThroughLauncher(ctx: ScenarioContext): Promise<void> {
  await pairDevice(ctx);
  const started = Date.now();
  await ctx.device.start({ throughLauncher: true });
  await waitPresence(ctx, 'online', { timeoutMs: 60_000, sinceMs: started - 1000 });
  const pushed = await ctx.site.control.pushConfig(
    ctx.edgeId,
    { update: { trialSeconds: HIL_TRIAL_SECONDS } },
    { timeoutMs: 20_000 },
  );
  const reported = pushed.body.reported as { status?: string } | undefined;
  check(
    pushed.status === 200 && reported?.status === 'applied',
    `the trial window push was not applied: ${JSON.stringify(pushed.body)}`,
  );
}

/** `npm run release` of a binary, signed with the development key; `arch` may differ from the binary's (wrong-arch). */
export async function makeBundle(
  ctx: ScenarioContext,
  binary: string,
  version: string,
  options: { arch?: 'x64' | 'arm64'; workDir: string; key?: string },
): Promise<string> {
  const arch = options.arch ?? 'x64';
  const result = await runCommand(
    TSX,
    [
      join(REPO_ROOT, 'scripts/release/release.ts'),
      '--arch',
      arch,
      '--key',
      options.key ?? DEV_KEY,
      '--binary',
      binary,
      '--version',
      version,
      '--out',
      options.workDir,
      // Signing another architecture's name on this binary is the point of the wrong-arch scenario.
      ...(options.arch ? ['--unchecked-arch', '--unchecked-version'] : []),
    ],
    { timeoutMs: 180_000, cwd: REPO_ROOT, signal: ctx.signal },
  );
  check(result.code === 0, `npm run release failed: ${result.stderr.slice(-600)}`);
  const bundle = join(options.workDir, `consystence-edge-${version}-${arch}.bundle`);
  check(existsSync(bundle), `npm run release did not write ${bundle}`);
  return bundle;
}

/** Upload (platform admin) and approve for this edge (site admin); returns the campaign id. */
export async function offerUpdate(
  ctx: ScenarioContext,
  bundle: string,
  options: { allowDowngrade?: boolean } = {},
): Promise<string> {
  const platform = new MockCloudClient(ctx.cloud.url);
  await platform.login(DEMO_PLATFORM_ADMIN, DEMO_PASSWORD);
  const release = await platform.uploadRelease(bundle);
  const campaign = await ctx.cloud.admin.createCampaign(ctx.site.orgId, ctx.site.siteId, {
    releaseId: release.id,
    edges: [ctx.edgeId],
    ...(options.allowDowngrade ? { allowDowngrade: true } : {}),
  });
  ctx.note(`campaign ${campaign.id} approved: ${release.version} (${release.size} bytes)`);
  return campaign.id;
}

export type EdgeUpdateProgress = UpdateCampaignView['progress'][number];

/** This edge's latest report for the campaign on the site server, or null. */
export async function edgeUpdate(ctx: ScenarioContext, campaignId: string): Promise<EdgeUpdateProgress | null> {
  const campaign = (await ctx.site.control.updates()).find((c) => c.id === campaignId);
  return campaign?.progress.find((p) => p.edgeId === ctx.edgeId) ?? null;
}

/**
 * Waits for one of `states` for this edge, recording every distinct state seen on the way (the `P/update/state`
 * sequence) in the report.
 */
export async function waitUpdateState(
  ctx: ScenarioContext,
  campaignId: string,
  states: string[],
  timeoutMs: number,
  seen: string[] = [],
): Promise<EdgeUpdateProgress> {
  return waitUntil(
    async () => {
      const progress = await edgeUpdate(ctx, campaignId);
      if (progress && seen.at(-1) !== progress.state) {
        seen.push(progress.state);
        ctx.note(`update state ${progress.state}${progress.reason ? ` (${progress.reason.code})` : ''}`);
      }
      return progress && states.includes(progress.state) ? progress : null;
    },
    { timeoutMs, what: `update state ${states.join('|')} for ${ctx.edgeId}`, signal: ctx.signal, intervalMs: 250 },
  );
}

/** Waits for the job's end and checks the device refused it with `code` (`what` names the release in the report). */
export async function expectRefusal(
  ctx: ScenarioContext,
  campaignId: string,
  code: string,
  what: string,
  timeoutMs = 120_000,
): Promise<void> {
  const done = await waitUpdateState(ctx, campaignId, ['succeeded', 'failed', 'rolled-back'], timeoutMs);
  checkEqual(done.state, 'failed', `the final state of ${what}`);
  checkEqual(done.reason?.code, code, 'why it failed');
}

/** A scratch folder for bundles, removed when the scenario ends. */
export function bundleDir(ctx: ScenarioContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'cst-hil-ota-'));
  ctx.defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
