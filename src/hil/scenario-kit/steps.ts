/**
 * Steps many scenarios share: pair the device with a fresh code, start it and wait until the site server sees
 * it online, read its presence. Each is bounded and fails with what was expected and what was seen.
 */
import type { EdgeSummary } from '../bed/site-control.js';
import type { CommandResult } from '../../common/process/process.js';
import { waitUntil } from '../util/wait.js';
import { check } from './errors.js';
import type { ScenarioContext } from './types.js';

/** The edge CLI's documented exit codes (src/edge/main.ts). */
export const EDGE_EXIT = {
  OK: 0,
  USAGE: 2,
  CLOUD_REFUSED: 3,
  CLOUD_UNREACHABLE: 4,
  VERIFICATION_FAILED: 5,
  NOT_PAIRED: 7,
} as const;

export async function mintPairingUri(ctx: ScenarioContext, ttlSeconds?: number): Promise<string> {
  const code = await ctx.cloud.admin.createPairingCode(ctx.site.orgId, ctx.site.siteId, {
    edgeId: ctx.edgeId,
    ...(ttlSeconds ? { ttlSeconds } : {}),
  });
  return code.pairingUri;
}

export function describeResult(result: CommandResult): string {
  return `exit ${result.code}${result.timedOut ? ' (timed out)' : ''}; stdout: ${result.stdout.slice(-600)}; stderr: ${result.stderr
    .split('\n')
    .filter((l) => !l.startsWith('{'))
    .join(' ')
    .slice(-600)}`;
}

/**
 * A fresh licence key of the scenario's organisation (the mock cloud's control route: an attached cloud needs
 * CONSYSTENCE_CLOUD_CONTROL_TOKEN), so scenarios never compete for the seed's few keys.
 */
export async function mintLicence(ctx: ScenarioContext): Promise<string> {
  const [key] = await ctx.cloud.admin.mintLicences(ctx.site.orgId, 1);
  check(key, 'the mock cloud should mint a licence key');
  return key;
}

/** `register` through a site server with the fingerprint it reported, checked to succeed; records `registerMs`. */
export async function registerDevice(
  ctx: ScenarioContext,
  site: { edgeUrl: string | null; fingerprint: string | null },
  licenceKey: string,
): Promise<CommandResult> {
  if (!site.edgeUrl || !site.fingerprint)
    ctx.skip('the site server reports no edge-facing API (edgeUrl and fingerprint on /health): it predates issue 15');
  const result = await ctx.device.register({
    siteServerUrl: site.edgeUrl,
    fingerprint: site.fingerprint,
    licenceKey,
    edgeId: ctx.edgeId,
  });
  ctx.figure('registerMs', result.durationMs);
  check(result.code === EDGE_EXIT.OK, `register should succeed: ${describeResult(result)}`);
  ctx.note(`registered as ${ctx.edgeId} through ${site.edgeUrl} in ${result.durationMs} ms`);
  return result;
}

/** Pairs with a new code and checks the CLI said so; records `pairMs`. */
export async function pairDevice(
  ctx: ScenarioContext,
  options: { force?: boolean; clockInPast?: boolean; uri?: string } = {},
): Promise<CommandResult> {
  const uri = options.uri ?? (await mintPairingUri(ctx));
  const result = await ctx.device.pair(uri, {
    edgeId: ctx.edgeId,
    ...(options.force ? { force: true } : {}),
    ...(options.clockInPast ? { clockInPast: true } : {}),
  });
  ctx.figure('pairMs', result.durationMs);
  check(result.code === EDGE_EXIT.OK, `pair should succeed: ${describeResult(result)}`);
  ctx.note(`paired as ${ctx.edgeId} in ${result.durationMs} ms`);
  return result;
}

/** Waits until the site server's control API shows the edge online (and, if given, connected since `afterMs`). */
export async function waitPresence(
  ctx: ScenarioContext,
  state: 'online' | 'offline',
  options: { timeoutMs?: number; sinceMs?: number } = {},
): Promise<EdgeSummary> {
  return waitUntil(
    async () => {
      const edge = await ctx.site.control.edge(ctx.edgeId);
      if (!edge || edge.presence.state !== state) return null;
      if (options.sinceMs && (!edge.presence.since || Date.parse(edge.presence.since) < options.sinceMs)) return null;
      return edge;
    },
    {
      timeoutMs: options.timeoutMs ?? 30_000,
      what: `the site server to show ${ctx.edgeId} ${state}`,
      signal: ctx.signal,
      intervalMs: 250,
    },
  );
}

/** Starts the device and waits until the site server sees it online; records `timeToOnlineMs`. */
export async function startAndWaitOnline(
  ctx: ScenarioContext,
  options: { timeoutMs?: number; figure?: string } = {},
): Promise<EdgeSummary> {
  const started = Date.now();
  await ctx.device.start();
  const edge = await waitPresence(ctx, 'online', { timeoutMs: options.timeoutMs ?? 30_000, sinceMs: started - 1000 });
  ctx.figure(options.figure ?? 'timeToOnlineMs', Date.now() - started);
  return edge;
}

/** Pair, then run until online: the common start of session scenarios. */
export async function pairAndRun(ctx: ScenarioContext): Promise<EdgeSummary> {
  await pairDevice(ctx);
  return startAndWaitOnline(ctx);
}

export async function deviceStatus(ctx: ScenarioContext): Promise<Record<string, unknown>> {
  const status = await ctx.device.status();
  check(status, 'consystence-edge status --json should print a JSON report');
  return status;
}
