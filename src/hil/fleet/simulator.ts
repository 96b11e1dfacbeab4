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
import { provideCloud } from '../bed/cloud.js';
import { LogBuffer } from '../bed/log-buffer.js';
import { sleep } from '../../common/time/sleep.js';
import { waitUntil } from '../util/wait.js';
import { aggregateConnect, aggregateStorm, distribution } from './aggregate.js';
import { procStats } from './proc-stats.js';
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

/** Slack on top of a worker-side wait, for the reply to travel back from a busy worker. */
const REPLY_SLACK_MS = 30_000;
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
  const siteSeen = { fds: 0 };
  const sampler = setInterval(() => {
    const s = site?.pid ? procStats(site.pid) : null;
    if (s?.fds) siteSeen.fds = Math.max(siteSeen.fds, s.fds);
  }, SAMPLE_MS);
  try {
    const created = await cloud.admin.createSite(cloud.orgId, {
      name: 'HIL fleet',
      slug: `fleet-${randomBytes(3).toString('hex')}`,
      timezone: 'Australia/Perth',
    });
    site = await startSiteProcess({
      cloudUrl: cloud.url,
      orgId: cloud.orgId,
      siteId: created.id,
      token: cloud.adminToken,
    });
    const sizes = shardSizes(options.devices, options.workers);
    options.progress(
      `site server ${site.mqttUrl} (pid ${site.pid}); ${options.workers} ${options.workerRuntime} worker(s) of ${sizes.join('/')} edges`,
    );
    pool = new WorkerPool(options.workers, options.workerRuntime, WORKER_OLD_SPACE_MB, signal, options.progress);
    const runTag = randomBytes(4).toString('hex');
    const perWorkerPairing = Math.max(1, Math.ceil(options.pairConcurrency / options.workers));
    const firstIndex = (w: number) => sizes.slice(0, w).reduce((a, b) => a + b, 0);
    const inits = await pool.all(
      (w) => ({
        cmd: 'init',
        init: {
          worker: w.index,
          firstIndex: firstIndex(w.index),
          count: sizes[w.index]!,
          runTag,
          root,
          cloudUrl: cloud.url,
          orgId: cloud.orgId,
          siteId: created.id,
          adminToken: cloud.adminToken,
          pairConcurrency: perWorkerPairing,
        },
      }),
      within(120_000),
    );

    // Pairing: the real flow per edge, every worker in parallel, each with its share of the concurrency.
    options.progress(`pairing ${options.devices} edges (concurrency ${perWorkerPairing} per worker)`);
    const pairStart = Date.now();
    const paired = await pool.all(() => ({ cmd: 'pair' }), within(Number.MAX_SAFE_INTEGER));
    const pairingMs = Date.now() - pairStart;
    const pairFailed = paired.reduce((n, p) => n + p.failed, 0);
    if (pairFailed)
      problems.push(
        `${pairFailed} edges failed to pair: ${paired
          .flatMap((p) => p.errors)
          .slice(0, 3)
          .join(' | ')}`,
      );

    // Connect: everyone boots at once, as after a site-wide power return.
    options.progress(`connecting (pairing took ${pairingMs} ms)`);
    const connectStart = Date.now();
    await pool.all(() => ({ cmd: 'start' }), within(120_000));
    const settleMs = options.settleTimeoutS * 1000;
    const online = await pool.all(
      () => ({ cmd: 'waitOnline', timeoutMs: within(settleMs) }),
      within(settleMs + REPLY_SLACK_MS),
    );
    const connect = aggregateConnect(online, connectStart);
    if (connect.allOnlineMs === null)
      problems.push(`only ${connect.online}/${options.devices} edges online after ${options.settleTimeoutS} s`);

    // Telemetry: the fleet-wide rate, each worker its edges' share, through each edge's real outbox.
    options.progress(`streaming ${options.rate} msg/s for ${options.durationS} s`);
    const streamed = await pool.all(
      (w) => ({
        cmd: 'stream',
        rate: (options.rate * sizes[w.index]!) / options.devices,
        durationS: options.durationS,
      }),
      within(options.durationS * 1000 + 120_000),
    );
    const streamMs = Math.max(1, ...streamed.map((s) => s.durationMs));
    const sent = streamed.reduce((n, s) => n + s.enqueued, 0);
    const enqueueFailed = streamed.reduce((n, s) => n + s.failed, 0);
    if (enqueueFailed)
      problems.push(
        `${enqueueFailed} enqueues failed: ${streamed
          .flatMap((s) => s.errors)
          .slice(0, 3)
          .join(' | ')}`,
      );
    // Received means seen by the site server; the drain is bounded so a stuck pipeline is a reported problem.
    const siteNow = site;
    const received = await waitUntil(
      async () => {
        const list = await siteNow.control.edges();
        return list.reduce((sum, e) => sum + e.counters.messages, 0) >= sent ? list : null;
      },
      { timeoutMs: within(60_000), what: `the site server to receive ${sent} messages`, intervalMs: 1000, signal },
    ).catch(async (error: Error) => {
      signal.throwIfAborted();
      problems.push(error.message);
      return siteNow.control.edges();
    });
    const count = (key: 'messages' | 'duplicates' | 'missing') => received.reduce((sum, e) => sum + e.counters[key], 0);
    if (count('missing') > 0) problems.push(`${count('missing')} seqs missing at the site server`);

    let storm: FleetReport['reconnectStorm'] = null;
    let back: Array<{ back: number; attempts: number[] }> | null = null;
    if (options.restartBroker) {
      options.progress(`restarting the broker listener (down ${options.downS} s)`);
      await pool.all(() => ({ cmd: 'markDown' }), within(30_000));
      await site.control.faults.listener('stop');
      const offline = await pool.all(
        () => ({ cmd: 'waitOffline', timeoutMs: within(60_000) }),
        within(60_000 + REPLY_SLACK_MS),
      );
      if (offline.some((o) => o.allOfflineAt === null))
        problems.push('not every edge noticed the broker was gone within 60 s');
      await sleep(options.downS * 1000, { signal, onAbort: 'reject' });
      const restartAt = Date.now();
      await site.control.faults.listener('start');
      const returned = await pool.all(
        () => ({ cmd: 'waitBack', restartAt, timeoutMs: within(settleMs) }),
        within(settleMs + REPLY_SLACK_MS),
      );
      const aggregate = aggregateStorm(returned, restartAt, Date.now());
      if (aggregate.allBackMs === null)
        problems.push(
          `only ${aggregate.back}/${options.devices} edges back within ${options.settleTimeoutS} s of the broker restart`,
        );
      storm = { downS: options.downS, ...aggregate };
      back = returned;
    }

    // Memory last: VmHWM is each process's peak over the whole run, whatever phase it happened in.
    const memories = await pool.all(() => ({ cmd: 'memory' }), within(30_000));
    const siteMem = site.pid ? procStats(site.pid) : null;
    const self = procStats('self');
    const processes: ProcessMemory[] = [
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
        fds: Math.max(siteSeen.fds, siteMem?.fds ?? 0) || null,
      },
      ...memories.map((m, i) => ({
        role: `worker ${i}` as const,
        pid: inits[i]!.pid,
        rssMb: m.rssMb,
        rssPeakMb: m.rssPeakMb,
        fds: m.fds,
      })),
    ];
    const rows: WorkerRow[] = pool.workers.map((_w, i) => ({
      worker: i,
      pid: inits[i]!.pid,
      runtime: inits[i]!.runtime,
      edges: sizes[i]!,
      paired: paired[i]!.paired,
      pairingMs: paired[i]!.durationMs,
      online: online[i]!.online,
      connect: distribution(online[i]!.connectMs),
      enqueued: streamed[i]!.enqueued,
      back: back?.[i]?.back ?? null,
      stormAttempts: back?.[i]?.attempts.length ?? null,
      memory: { ...memories[i]!, perEdgeKb: Math.round((memories[i]!.rssMb * 1024) / sizes[i]!) },
    }));
    const sum = (f: (m: (typeof memories)[number]) => number) => round1(memories.reduce((n, m) => n + f(m), 0));
    return {
      devices: options.devices,
      implementation: `real runtime library: createEdgeRuntime + EdgeSession + DataPlane (outbox, drainer) per edge, ${options.workers} ${options.workerRuntime} worker process(es)`,
      workers: { count: options.workers, runtime: options.workerRuntime, rows },
      pairing: {
        durationMs: pairingMs,
        perSecond: round1((options.devices / Math.max(1, pairingMs)) * 1000),
        failed: pairFailed,
      },
      connect,
      telemetry: {
        targetRate: options.rate,
        durationS: options.durationS,
        enqueued: sent,
        enqueueRate: round1(sent / (streamMs / 1000)),
        receivedAtSite: count('messages'),
        // Received beyond what we streamed: the runtime's own system metrics (one record per edge per minute), which
        // long runs (10 000 edges take minutes to connect) send too. The rate is of the stream alone.
        builtinMetricsAtSite: Math.max(0, count('messages') - sent),
        receiveRate: round1(Math.min(count('messages'), sent) / (streamMs / 1000)),
        duplicates: count('duplicates'),
        missing: count('missing'),
      },
      reconnectStorm: storm,
      memory: {
        rssPeakMb: sum((m) => m.rssPeakMb),
        rssEndMb: sum((m) => m.rssMb),
        heapUsedEndMb: sum((m) => m.heapUsedMb),
        perEdgeKb: Math.round((sum((m) => m.rssMb) * 1024) / options.devices),
        totalRssPeakMb: round1(processes.reduce((n, p) => n + (p.rssPeakMb ?? 0), 0)),
        processes,
      },
      durationMs: Date.now() - runStart,
      ok: problems.length === 0,
      problems,
    };
  } finally {
    clearInterval(sampler);
    await pool?.close();
    await site?.close();
    await cloud.close();
    rmSync(root, { recursive: true, force: true });
  }
}
