/**
 * One scenario iteration, start to finish: decide whether it can run here, build its bed (namespace, cloud,
 * site, device), run it under its time limit, gather diagnostics if it failed, and tear everything down in
 * reverse order, each step bounded so a stuck cleanup cannot hang the rig.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { provideCloud, type CloudHandle } from '../bed/cloud.js';
import { LogBuffer } from '../bed/log-buffer.js';
import { provideSite, type SiteHandle } from '../bed/site.js';
import { saveSupportBundle } from '../bed/support-bundle.js';
import { createDeviceNamespace, netnsUnavailable, type DeviceNamespace } from '../net/netns.js';
import { CheckFailed, Interrupted, RigFault, ScenarioSkipped, shellCouldNotRun } from '../scenario-kit/errors.js';
import type { Figure, Scenario, ScenarioContext } from '../scenario-kit/types.js';
import type { TargetFactory } from '../targets/index.js';
import type { DeviceTarget, TargetKind } from '../targets/types.js';
import type { ScenarioResult } from '../report/types.js';
import { TimeoutError } from '../../common/time/timeout-error.js';
import { withTimeout } from '../util/wait.js';

export interface BedOptions {
  targetKind: TargetKind;
  factory: TargetFactory;
  cloudUrl?: string;
  siteUrl?: string;
  orgId?: string;
  host: string;
  publicHost?: string;
  /** Whether rig hooks cut the network (then no namespace is needed). */
  netHooks: boolean;
  keepWorkDirs: boolean;
  /** The self-check: this scenario is failed on purpose after it ran (proves failures reach the reports). */
  injectFailure?: string;
  /** Where support bundles pulled from a device after a failure are saved (named in the JUnit report). */
  bundleDir?: string;
  /** Aborted when the run is stopped (Ctrl-C, SIGTERM): the running scenario is stopped and its bed torn down. */
  stop?: AbortSignal;
}

const CLEANUP_STEP_MS = 30_000;
const SETUP_MS = 60_000;

class Stopped extends Error {}

function edgeIdFor(scenario: Scenario): string {
  return `hil-${scenario.id.slice(0, 40)}-${randomBytes(2).toString('hex')}`;
}

/** Why this scenario cannot run against this target and bed, or undefined. */
function unmetRequirement(scenario: Scenario, options: BedOptions): string | undefined {
  const r = scenario.requires ?? {};
  if (r.ownCloud && options.cloudUrl)
    return 'needs its own mock cloud (e.g. a short token lifetime); not possible with --cloud-url';
  if (r.ownSiteServer && options.siteUrl)
    return "stops the site server's listener; not done to an attached site server (--site-url)";
  if (r.netns && !options.netHooks) {
    if (options.targetKind === 'remote') return 'needs --net-down-cmd and --net-up-cmd for a remote device';
    if (options.siteUrl || options.cloudUrl)
      return 'puts the device in a network namespace with its own mocks; not possible with --cloud-url/--site-url';
    const why = netnsUnavailable();
    if (why) return why;
  }
  return undefined;
}

type Cleanups = Array<{ what: string; run: () => Promise<void> | void }>;

/** What the scenario's bed holds so far: set as each part starts, so a failure's diagnostics use what exists. */
interface Bed {
  logs: LogBuffer;
  cleanups: Cleanups;
  ns?: DeviceNamespace;
  cloud?: CloudHandle;
  site?: SiteHandle;
  device?: DeviceTarget;
  edgeId?: string;
}

/** A scenario's notes, figures and partial runs, and its result built from them. */
interface ScenarioRecord {
  started: number;
  figures: Record<string, Figure>;
  notes: string[];
  partial: string[];
  result: (outcome: ScenarioResult['outcome'], extra?: Partial<ScenarioResult>) => ScenarioResult;
}

export async function runScenario(
  scenario: Scenario,
  iteration: number,
  options: BedOptions,
  budgetMs: number,
): Promise<ScenarioResult> {
  const record = startRecord(scenario, iteration);
  const { notes } = record;
  const unmet = unmetRequirement(scenario, options);
  if (unmet) return record.result('skipped', { message: unmet });

  const bed: Bed = { logs: new LogBuffer(), cleanups: [] };
  const workDir = mkdtempSync(join(tmpdir(), `cst-hil-${scenario.id}-`));
  bed.cleanups.push({
    what: 'remove the work dir',
    run: () => {
      if (options.keepWorkDirs) notes.push(`work dir kept: ${workDir}`);
      else rmSync(workDir, { recursive: true, force: true });
    },
  });

  let outcome: ScenarioResult;
  const controller = new AbortController();
  const interruption = whenStopped(options.stop, controller);
  try {
    // A stop during setup is honoured once the (bounded) step is done, so everything it made gets cleaned up.
    if (scenario.requires?.netns && !options.netHooks) await enterNamespace(bed, notes);
    interruption.throwIfStopped();
    await startMocks(scenario, options, bed);
    interruption.throwIfStopped();
    const device = createDevice(scenario, options, bed, workDir);
    const missing = (scenario.requires?.capabilities ?? []).map((c) => device.capabilities[c]).find((v) => v !== true);
    if (missing !== undefined) {
      outcome = record.result('skipped', { message: String(missing) });
    } else {
      const ctx = scenarioContext(bed, record, controller.signal);
      await runWithinLimit(scenario, ctx, budgetMs, controller, interruption.stopped);
      if (options.injectFailure === scenario.id)
        throw new CheckFailed(
          'failure injected by --inject-failure: this proves a failing scenario reaches the reports and the exit code',
        );
      outcome = record.result('passed');
    }
  } catch (error) {
    outcome = classify(error, record.result, bed.device?.sessionExit()?.code ?? null);
  }
  controller.abort(new Stopped('scenario over'));
  interruption.dispose();

  // Stopped by the operator: tear down at once, without the diagnostics and bundle a failure would collect.
  const interrupted = outcome.errorType === Interrupted.name;
  if (!interrupted && (outcome.outcome === 'failed' || outcome.outcome === 'error')) {
    outcome.diagnostics = await gatherDiagnostics(bed.device, bed.site, bed.cloud, bed.logs);
    if (bed.site && bed.edgeId && options.bundleDir) {
      const label = `${scenario.id}-${iteration}`;
      const bundle = await pullBundleAfterFailure(bed.site, bed.edgeId, options.bundleDir, label);
      outcome.diagnostics['support-bundle'] = bundle;
      notes.push(`support bundle: ${bundle}`);
    }
  }
  const cleanupErrors = await runCleanups(bed.cleanups);
  if (cleanupErrors.length) notes.push(...cleanupErrors.map((e) => `cleanup: ${e}`));
  return { ...outcome, durationMs: Date.now() - record.started };
}

function startRecord(scenario: Scenario, iteration: number): ScenarioRecord {
  const started = Date.now();
  const figures: Record<string, Figure> = {};
  const notes: string[] = [];
  const partial: string[] = [];
  const result = (outcome: ScenarioResult['outcome'], extra: Partial<ScenarioResult> = {}): ScenarioResult => ({
    id: scenario.id,
    title: scenario.title,
    iteration,
    outcome,
    durationMs: Date.now() - started,
    figures,
    notes,
    ...(partial.length ? { partial } : {}),
    ...extra,
  });
  return { started, figures, notes, partial, result };
}

/** The device in its own network namespace, so the scenario can cut and shape its link. */
async function enterNamespace(bed: Bed, notes: string[]): Promise<void> {
  const ns = await createDeviceNamespace();
  bed.ns = ns;
  bed.cleanups.push({ what: `delete namespace ${ns.name}`, run: () => ns.remove() });
  notes.push(`device in namespace ${ns.name}: ${ns.deviceAddress} ↔ rig ${ns.hostAddress} (${ns.hostIfName})`);
}

/** The mock cloud and site server (or the attached ones), reachable from the device, within SETUP_MS. */
async function startMocks(scenario: Scenario, options: BedOptions, bed: Bed): Promise<void> {
  const { ns, logs, cleanups } = bed;
  const host = ns ? ns.hostAddress : options.host;
  const publicHost = ns ? undefined : options.publicHost;
  await withTimeout(
    (async () => {
      const cloud = await provideCloud({
        host,
        logs,
        ...(publicHost ? { publicHost } : {}),
        ...(options.cloudUrl && !ns ? { attachUrl: options.cloudUrl } : {}),
        ...(options.orgId ? { orgId: options.orgId } : {}),
        ...(scenario.setup?.cloud ?? {}),
      });
      bed.cloud = cloud;
      cleanups.push({ what: 'close the cloud', run: () => cloud.close() });
      const site = await provideSite(cloud, {
        host,
        logs,
        label: scenario.id,
        ...(publicHost ? { publicHost } : {}),
        ...(options.siteUrl && !ns ? { attachUrl: options.siteUrl } : {}),
      });
      bed.site = site;
      cleanups.push({ what: 'close the site server', run: () => site.close() });
    })(),
    SETUP_MS,
    'the mock cloud and site server to start',
  );
}

/** A fresh device (new hardware id and edge id) from the target factory. */
function createDevice(scenario: Scenario, options: BedOptions, bed: Bed, workDir: string): DeviceTarget {
  const hardwareId = createHash('sha256').update(randomBytes(32)).digest('hex');
  const edgeId = edgeIdFor(scenario);
  bed.edgeId = edgeId;
  const device = options.factory({
    runId: `${scenario.id}-${randomBytes(4).toString('hex')}`,
    edgeId,
    hardwareId,
    workDir,
    ...(bed.ns ? { netns: { name: bed.ns.name, hostIfName: bed.ns.hostIfName } } : {}),
  });
  bed.device = device;
  bed.cleanups.push({ what: 'dispose of the device', run: () => device.dispose() });
  return device;
}

function scenarioContext(bed: Bed, record: ScenarioRecord, signal: AbortSignal): ScenarioContext {
  const { figures, notes, partial, started } = record;
  return {
    device: bed.device!,
    cloud: bed.cloud!,
    site: bed.site!,
    edgeId: bed.edgeId!,
    signal,
    link: bed.ns?.shaper,
    figure: (name, value) => void (figures[name] = value),
    note: (text) => void notes.push(`${((Date.now() - started) / 1000).toFixed(1)} s ${text}`),
    partial: (reason) => {
      partial.push(reason);
      notes.push(`${((Date.now() - started) / 1000).toFixed(1)} s ran only in part: ${reason}`);
    },
    skip: (reason) => {
      throw new ScenarioSkipped(reason);
    },
    defer: (cleanup) => void bed.cleanups.push({ what: 'scenario cleanup', run: cleanup }),
  };
}

/**
 * Runs the scenario under its own limit or the rest of the run's budget; at the limit its signal aborts. It also
 * ends when `stopped` rejects (the run was stopped).
 */
async function runWithinLimit(
  scenario: Scenario,
  ctx: ScenarioContext,
  budgetMs: number,
  controller: AbortController,
  stopped: Promise<never>,
): Promise<void> {
  const limitMs = Math.min(scenario.timeoutS * 1000, budgetMs);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new TimeoutError(
        `the scenario did not finish within ${Math.round(limitMs / 1000)} s${limitMs < scenario.timeoutS * 1000 ? " (the rest of the run's --timeout-s budget)" : ''}`,
      );
      controller.abort(new Stopped('time is up'));
      reject(error);
    }, limitMs);
  });
  try {
    await Promise.race([scenario.run(ctx), timeout, stopped]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The run's stop, seen from one scenario: `stopped` rejects with `Interrupted` (and aborts the scenario's own
 * signal) once the run is stopped, and never settles otherwise; `dispose` forgets the run's signal afterwards.
 */
function whenStopped(
  stop: AbortSignal | undefined,
  scenario: AbortController,
): { stopped: Promise<never>; throwIfStopped: () => void; dispose: () => void } {
  const interrupted = () => new Interrupted((stop!.reason as Error).message);
  let onStop = () => {};
  const stopped = new Promise<never>((_, reject) => {
    onStop = () => {
      const error = interrupted();
      scenario.abort(new Stopped(error.message));
      reject(error);
    };
  });
  // Raced only while the scenario runs: a stop at another moment must not surface as an unhandled rejection.
  stopped.catch(() => undefined);
  if (stop?.aborted) onStop();
  else stop?.addEventListener('abort', onStop, { once: true });
  return {
    stopped,
    throwIfStopped: () => {
      if (stop?.aborted) throw interrupted();
    },
    dispose: () => stop?.removeEventListener('abort', onStop),
  };
}

/** `sessionExit`: how the device's `run` ended, if it did (126/127: the rig could not start it at all). */
function classify(
  error: unknown,
  result: (o: ScenarioResult['outcome'], extra?: Partial<ScenarioResult>) => ScenarioResult,
  sessionExit: number | null,
): ScenarioResult {
  const e = error instanceof Error ? error : new Error(String(error));
  if (e instanceof Interrupted) return result('error', { message: e.message, errorType: e.name });
  if (e instanceof ScenarioSkipped) return result('skipped', { message: e.message });
  if (shellCouldNotRun(sessionExit))
    return result('error', {
      message: `the rig could not start the device: its command exited ${sessionExit} (${sessionExit === 127 ? 'command not found' : 'not executable'}), so nothing the device did was tested\n${e.message}`,
      errorType: RigFault.name,
    });
  // A device that does the wrong thing, or does it too late, fails; anything else is the rig breaking.
  if (e instanceof CheckFailed || e instanceof TimeoutError)
    return result('failed', { message: e.message, errorType: e.name });
  return result('error', { message: `${e.message}${e.stack ? `\n${e.stack}` : ''}`, errorType: e.name });
}

async function gatherDiagnostics(
  device: DeviceTarget | undefined,
  site: SiteHandle | undefined,
  cloud: CloudHandle | undefined,
  logs: LogBuffer,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const grab = async (key: string, fn: () => Promise<string>) => {
    try {
      out[key] = await withTimeout(fn(), 20_000, key);
    } catch (error) {
      out[key] = `(could not collect: ${(error as Error).message})`;
    }
  };
  if (device) {
    try {
      Object.assign(out, await withTimeout(device.collectDiagnostics(), 30_000, 'device diagnostics'));
    } catch (error) {
      out['device'] = `(could not collect: ${(error as Error).message})`;
    }
  }
  if (site) await grab('site-server.edges', async () => JSON.stringify(await site.control.edges(), null, 2));
  if (cloud) await grab('cloud.faults', async () => JSON.stringify(await cloud.admin.faults.get()));
  out['mocks.log'] = logs.text();
  return out;
}

/**
 * A failed scenario's support bundle, pulled through the site server while the device still runs: the saved
 * file's path, or why there is none (the device was offline, or did not answer in time).
 */
async function pullBundleAfterFailure(site: SiteHandle, edgeId: string, dir: string, label: string): Promise<string> {
  try {
    const edge = await withTimeout(site.control.edge(edgeId), 10_000, 'the edge summary');
    if (edge?.presence.state !== 'online') return `(none: the device is not online at the site server)`;
    return await withTimeout(saveSupportBundle(site.control, edgeId, dir, label, 25_000), 40_000, 'a support bundle');
  } catch (error) {
    return `(none: ${(error as Error).message.slice(0, 300)})`;
  }
}

async function runCleanups(cleanups: Cleanups): Promise<string[]> {
  const errors: string[] = [];
  for (const cleanup of cleanups.reverse()) {
    try {
      await withTimeout(Promise.resolve().then(cleanup.run), CLEANUP_STEP_MS, cleanup.what);
    } catch (error) {
      errors.push(`${cleanup.what}: ${(error as Error).message}`);
    }
  }
  return errors;
}
