/**
 * The fleet simulator: one mock cloud (in this process), one mock site server (its own process), and the N
 * simulated edges sharded over worker processes (`--workers`), each running its share with the real runtime
 * library. Sharding is what lets 10 000 edges exist at all: each edge holds ~4 file descriptors (MQTT socket,
 * SQLite db/wal/shm) and one process may hold 20 000 here.
 *
 * Phases, each sent to every worker at once and each bounded (by its own limit, by `timeoutS` for the whole run,
 * and by the abort signal on Ctrl-C): pair all, connect all, stream telemetry at the fleet-wide rate, optionally
 * restart the broker listener and watch the reconnect storm, then count what the site server received.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { type CloudHandle, provideCloud } from '../bed/cloud.js';
import { LogBuffer } from '../bed/log-buffer.js';
import { distribution } from './aggregate.js';
import { connectAll, drainToSite, type Fleet, initWorkers, pairAll, restartBroker, streamTelemetry } from './phases.js';
import { procStats } from './proc-stats.js';
import type { Reply } from './protocol.js';
import type { FleetReport, ProcessMemory, WorkerRow } from './report.js';
import { startSiteProcess, type SiteProcess } from './site-process.js';
import { shardSizes, WorkerPool } from './worker-pool.js';
import type { WorkerRuntime } from './worker-client.js';

export type { FleetReport } from './report.js';

export interface FleetOptions {
  devices: number;
  workers: number;
  workerRuntime: WorkerRuntime;
  rate: number;
  durationS: number;
  restartBroker: boolean;
  downS: number;
  /** Fleet-wide: split over the workers (the one cloud is what it protects). */
  pairConcurrency: number;
  settleTimeoutS: number;
  timeoutS: number;
  signal?: AbortSignal;
  progress: (line: string) => void;
}

const WORKER_OLD_SPACE_MB = 4096;
const SAMPLE_MS = 2000;

const round1 = (n: number) => Math.round(n * 10) / 10;

export async function runFleet(options: FleetOptions): Promise<FleetReport> {
  const runStart = Date.now();
  const deadline = runStart + options.timeoutS * 1000;
  const signal = AbortSignal.any([
    AbortSignal.timeout(options.timeoutS * 1000),
    ...(options.signal ? [options.signal] : []),
  ]);
  /** A phase's limit, never past the run's deadline. */
  const within = (ms: number) => Math.max(1000, Math.min(ms, deadline - Date.now()));
  const problems: string[] = [];
  const root = mkdtempSync(join(tmpdir(), 'cst-hil-fleet-'));
  const cloud = await provideCloud({ host: '127.0.0.1', logs: new LogBuffer(200) });
  let site: SiteProcess | undefined;
  let pool: WorkerPool | undefined;
  const siteFds = samplePeakFds(() => site?.pid);
  try {
    const siteId = await createFleetSite(cloud);
    site = await startSiteProcess({ cloudUrl: cloud.url, orgId: cloud.orgId, siteId, token: cloud.adminToken });
    const sizes = shardSizes(options.devices, options.workers);
    options.progress(
      `site server ${site.mqttUrl} (pid ${site.pid}); ${options.workers} ${options.workerRuntime} worker(s) of ${sizes.join('/')} edges`,
    );
    pool = new WorkerPool(options.workers, options.workerRuntime, WORKER_OLD_SPACE_MB, signal, options.progress);
    const { devices, progress } = options;
    const fleet: Fleet = { devices, pool, sizes, site, signal, within, problems, progress };
    const pairConcurrency = Math.max(1, Math.ceil(options.pairConcurrency / options.workers));
    const runTag = randomBytes(4).toString('hex');
    const inits = await initWorkers(fleet, { cloud, siteId, root, runTag, pairConcurrency });

    progress(`pairing ${devices} edges (concurrency ${pairConcurrency} per worker)`);
    const pairing = await pairAll(fleet);
    progress(`connecting (pairing took ${pairing.pairingMs} ms)`);
    const { online, connect } = await connectAll(fleet, options.settleTimeoutS);
    progress(`streaming ${options.rate} msg/s for ${options.durationS} s`);
    const telemetry = await streamTelemetry(fleet, options.rate, options.durationS);
    const received = await drainToSite(fleet, telemetry.sent);
    const restart = options.restartBroker
      ? await restartBroker(fleet, options.downS, options.settleTimeoutS)
      : { storm: null, back: null };

    // Memory last: VmHWM is each process's peak over the whole run, whatever phase it happened in.
    const memories = await pool.all(() => ({ cmd: 'memory' }), within(30_000));
    const processes = processMemories(site, siteFds.peak(), inits, memories);
    const rows = workerRows({ sizes, inits, paired: pairing.paired, online, telemetry, back: restart.back, memories });
    return {
      devices,
      implementation: `real runtime library: createEdgeRuntime + EdgeSession + DataPlane (outbox, drainer) per edge, ${options.workers} ${options.workerRuntime} worker process(es)`,
      workers: { count: options.workers, runtime: options.workerRuntime, rows },
      pairing: {
        durationMs: pairing.pairingMs,
        perSecond: round1((devices / Math.max(1, pairing.pairingMs)) * 1000),
        failed: pairing.pairFailed,
      },
      connect,
      telemetry: telemetrySummary(options, telemetry, received),
      reconnectStorm: restart.storm,
      memory: memorySummary(memories, processes, devices),
      durationMs: Date.now() - runStart,
      ok: problems.length === 0,
      problems,
    };
  } finally {
    siteFds.stop();
    await pool?.close();
    await site?.close();
    await cloud.close();
    rmSync(root, { recursive: true, force: true });
  }
}

/** Per worker: its edges and how each phase went for them. */
function workerRows(run: {
  sizes: number[];
  inits: ReadonlyArray<Reply<'init'>>;
  paired: ReadonlyArray<Reply<'pair'>>;
  online: ReadonlyArray<Reply<'waitOnline'>>;
  telemetry: { streamed: ReadonlyArray<Reply<'stream'>> };
  back: ReadonlyArray<Reply<'waitBack'>> | null;
  memories: ReadonlyArray<Reply<'memory'>>;
}): WorkerRow[] {
  const { sizes, inits, paired, online, telemetry, back, memories } = run;
  return inits.map((init, i) => ({
    worker: i,
    pid: init.pid,
    runtime: init.runtime,
    edges: sizes[i]!,
    paired: paired[i]!.paired,
    pairingMs: paired[i]!.durationMs,
    online: online[i]!.online,
    connect: distribution(online[i]!.connectMs),
    enqueued: telemetry.streamed[i]!.enqueued,
    back: back?.[i]?.back ?? null,
    stormAttempts: back?.[i]?.attempts.length ?? null,
    memory: { ...memories[i]!, perEdgeKb: Math.round((memories[i]!.rssMb * 1024) / sizes[i]!) },
  }));
}

function telemetrySummary(
  options: FleetOptions,
  { sent, streamMs }: { sent: number; streamMs: number },
  received: { messages: number; duplicates: number; missing: number },
): FleetReport['telemetry'] {
  return {
    targetRate: options.rate,
    durationS: options.durationS,
    enqueued: sent,
    enqueueRate: round1(sent / (streamMs / 1000)),
    receivedAtSite: received.messages,
    // Received beyond what we streamed: the runtime's own system metrics (one record per edge per minute), which
    // long runs (10 000 edges take minutes to connect) send too. The rate is of the stream alone.
    builtinMetricsAtSite: Math.max(0, received.messages - sent),
    receiveRate: round1(Math.min(received.messages, sent) / (streamMs / 1000)),
    duplicates: received.duplicates,
    missing: received.missing,
  };
}

/** The edges' memory summed over the workers that hold them, beside every process's own. */
function memorySummary(
  memories: ReadonlyArray<Reply<'memory'>>,
  processes: ProcessMemory[],
  devices: number,
): FleetReport['memory'] {
  const sum = (f: (m: Reply<'memory'>) => number) => round1(memories.reduce((n, m) => n + f(m), 0));
  return {
    rssPeakMb: sum((m) => m.rssPeakMb),
    rssEndMb: sum((m) => m.rssMb),
    heapUsedEndMb: sum((m) => m.heapUsedMb),
    perEdgeKb: Math.round((sum((m) => m.rssMb) * 1024) / devices),
    totalRssPeakMb: round1(processes.reduce((n, p) => n + (p.rssPeakMb ?? 0), 0)),
    processes,
  };
}

/** The site the fleet's edges pair into, under a fresh slug so runs against one cloud never collide. */
async function createFleetSite(cloud: CloudHandle): Promise<string> {
  const created = await cloud.admin.createSite(cloud.orgId, {
    name: 'HIL fleet',
    slug: `fleet-${randomBytes(3).toString('hex')}`,
    timezone: 'Australia/Perth',
  });
  return created.id;
}

/**
 * The most file descriptors the site server held, sampled through the run: at the end its edges are gone, so the
 * end count alone would hide the peak.
 */
function samplePeakFds(pid: () => number | undefined) {
  let peak = 0;
  const sampler = setInterval(() => {
    const current = pid();
    const s = current ? procStats(current) : null;
    if (s?.fds) peak = Math.max(peak, s.fds);
  }, SAMPLE_MS);
  return { peak: () => peak, stop: () => clearInterval(sampler) };
}

/** Memory of every process of the run: this one (the cloud), the site server, and each worker. */
function processMemories(
  site: SiteProcess,
  siteFdsPeak: number,
  inits: ReadonlyArray<Reply<'init'>>,
  memories: ReadonlyArray<Reply<'memory'>>,
): ProcessMemory[] {
  const siteMem = site.pid ? procStats(site.pid) : null;
  const self = procStats('self');
  return [
    {
      role: 'parent (cloud)',
      pid: process.pid,
      rssMb: self?.rssMb ?? null,
      rssPeakMb: self?.rssPeakMb ?? null,
      fds: self?.fds ?? null,
    },
    {
      role: 'site server',
      pid: site.pid ?? null,
      rssMb: siteMem?.rssMb ?? null,
      rssPeakMb: siteMem?.rssPeakMb ?? null,
      fds: Math.max(siteFdsPeak, siteMem?.fds ?? 0) || null,
    },
    ...memories.map((m, i) => ({
      role: `worker ${i}` as const,
      pid: inits[i]!.pid,
      rssMb: m.rssMb,
      rssPeakMb: m.rssPeakMb,
      fds: m.fds,
    })),
  ];
}
