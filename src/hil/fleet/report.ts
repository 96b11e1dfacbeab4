/**
 * The fleet report (stdout summary and `--json`). Fields of the one-process simulator keep their names and
 * meaning for edges (bench scripts read them); sharding added `workers`, per-process memory and `connect.p95`.
 */
import type { Distribution, StormAggregate } from './aggregate.js';
import type { summarize } from './stats.js';

export interface ProcessMemory {
  role: 'parent (cloud)' | 'site server' | `worker ${number}`;
  pid: number | null;
  rssMb: number | null;
  rssPeakMb: number | null;
  /** Open file descriptors at the end (the site server: the most seen while sampling). */
  fds: number | null;
}

export interface WorkerRow {
  worker: number;
  pid: number | null;
  runtime: string;
  edges: number;
  paired: number;
  pairingMs: number;
  online: number;
  connect: Distribution;
  enqueued: number;
  back: number | null;
  stormAttempts: number | null;
  memory: { rssMb: number; rssPeakMb: number; heapUsedMb: number; fds: number | null; perEdgeKb: number };
}

export interface FleetReport {
  devices: number;
  implementation: string;
  workers: { count: number; runtime: string; rows: WorkerRow[] };
  pairing: { durationMs: number; perSecond: number; failed: number };
  connect: Distribution & { allOnlineMs: number | null; online: number };
  telemetry: {
    targetRate: number;
    durationS: number;
    enqueued: number;
    enqueueRate: number;
    receivedAtSite: number;
    /** Records at the site server that the simulator did not stream: the runtime's built-in system metrics. */
    builtinMetricsAtSite: number;
    receiveRate: number;
    duplicates: number;
    missing: number;
  };
  reconnectStorm:
    | null
    | (Omit<StormAggregate, 'timeToBack'> & { downS: number; timeToBack: ReturnType<typeof summarize> });
  memory: {
    /** Edges' memory: summed over the workers (they hold the edges). */
    rssPeakMb: number;
    rssEndMb: number;
    heapUsedEndMb: number;
    perEdgeKb: number;
    /** Parent + workers + site server, each a peak (VmHWM), summed: an upper bound of what the run needed at once. */
    totalRssPeakMb: number;
    processes: ProcessMemory[];
  };
  durationMs: number;
  ok: boolean;
  problems: string[];
}
