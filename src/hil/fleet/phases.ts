/**
 * The fleet run's phases, in the order `runFleet` runs them. Each sends one command to every worker at once and is
 * bounded by its own limit, never past the run's deadline (`Fleet.within`), and by the run's abort signal. A phase
 * that falls short records a problem and returns what it measured, so the report shows how far the fleet got.
 */
import type { CloudHandle } from '../bed/cloud.js';
import { sleep } from '../../common/time/sleep.js';
import { waitUntil } from '../util/wait.js';
import { aggregateConnect, aggregateStorm } from './aggregate.js';
import type { Reply } from './protocol.js';
import type { FleetReport } from './report.js';
import type { SiteProcess } from './site-process.js';
import type { WorkerPool } from './worker-pool.js';

/** Slack on top of a worker-side wait, for the reply to travel back from a busy worker. */
const REPLY_SLACK_MS = 30_000;

/** What every phase needs: the workers, the site server, the run's bounds and its list of problems. */
export interface Fleet {
  devices: number;
  pool: WorkerPool;
  /** Edges per worker. */
  sizes: number[];
  site: SiteProcess;
  signal: AbortSignal;
  /** A phase's limit, never past the run's deadline. */
  within: (ms: number) => number;
  problems: string[];
  progress: (line: string) => void;
}

/** Where the workers' edges pair and report: the cloud, its site and the run's state folder. */
export interface ShardTarget {
  cloud: CloudHandle;
  siteId: string;
  root: string;
  runTag: string;
  pairConcurrency: number;
}

export function initWorkers(fleet: Fleet, target: ShardTarget): Promise<Array<Reply<'init'>>> {
  const firstIndex = (w: number) => fleet.sizes.slice(0, w).reduce((a, b) => a + b, 0);
  return fleet.pool.all(
    (w) => ({
      cmd: 'init',
      init: {
        worker: w.index,
        firstIndex: firstIndex(w.index),
        count: fleet.sizes[w.index]!,
        runTag: target.runTag,
        root: target.root,
        cloudUrl: target.cloud.url,
        orgId: target.cloud.orgId,
        siteId: target.siteId,
        adminToken: target.cloud.adminToken,
        pairConcurrency: target.pairConcurrency,
      },
    }),
    fleet.within(120_000),
  );
}

/** Pairing: the real flow per edge, every worker in parallel, each with its share of the concurrency. */
export async function pairAll(fleet: Fleet) {
  const pairStart = Date.now();
  const paired = await fleet.pool.all(() => ({ cmd: 'pair' }), fleet.within(Number.MAX_SAFE_INTEGER));
  const pairingMs = Date.now() - pairStart;
  const pairFailed = paired.reduce((n, p) => n + p.failed, 0);
  if (pairFailed) fleet.problems.push(`${pairFailed} edges failed to pair: ${firstErrors(paired)}`);
  return { paired, pairingMs, pairFailed };
}

/** Connect: everyone boots at once, as after a site-wide power return. */
export async function connectAll(fleet: Fleet, settleS: number) {
  const settleMs = settleS * 1000;
  const connectStart = Date.now();
  await fleet.pool.all(() => ({ cmd: 'start' }), fleet.within(120_000));
  const online = await fleet.pool.all(
    () => ({ cmd: 'waitOnline', timeoutMs: fleet.within(settleMs) }),
    fleet.within(settleMs + REPLY_SLACK_MS),
  );
  const connect = aggregateConnect(online, connectStart);
  if (connect.allOnlineMs === null)
    fleet.problems.push(`only ${connect.online}/${fleet.devices} edges online after ${settleS} s`);
  return { online, connect };
}

/** Telemetry: the fleet-wide rate, each worker its edges' share, through each edge's real outbox. */
export async function streamTelemetry(fleet: Fleet, rate: number, durationS: number) {
  const streamed = await fleet.pool.all(
    (w) => ({ cmd: 'stream', rate: (rate * fleet.sizes[w.index]!) / fleet.devices, durationS }),
    fleet.within(durationS * 1000 + 120_000),
  );
  const streamMs = Math.max(1, ...streamed.map((s) => s.durationMs));
  const sent = streamed.reduce((n, s) => n + s.enqueued, 0);
  const enqueueFailed = streamed.reduce((n, s) => n + s.failed, 0);
  if (enqueueFailed) fleet.problems.push(`${enqueueFailed} enqueues failed: ${firstErrors(streamed)}`);
  return { streamed, streamMs, sent };
}

/**
 * Received means seen by the site server; the drain is bounded so a stuck pipeline is a reported problem.
 * Returns the site server's counters summed over its edges.
 */
export async function drainToSite(fleet: Fleet, sent: number) {
  const { site, signal } = fleet;
  const received = await waitUntil(
    async () => {
      const list = await site.control.edges();
      return list.reduce((sum, e) => sum + e.counters.messages, 0) >= sent ? list : null;
    },
    { timeoutMs: fleet.within(60_000), what: `the site server to receive ${sent} messages`, intervalMs: 1000, signal },
  ).catch(async (error: Error) => {
    signal.throwIfAborted();
    fleet.problems.push(error.message);
    return site.control.edges();
  });
  const count = (key: 'messages' | 'duplicates' | 'missing') => received.reduce((sum, e) => sum + e.counters[key], 0);
  if (count('missing') > 0) fleet.problems.push(`${count('missing')} seqs missing at the site server`);
  return { messages: count('messages'), duplicates: count('duplicates'), missing: count('missing') };
}

/** Stops the broker listener for `downS`, then starts it and watches every edge come back (the reconnect storm). */
export async function restartBroker(fleet: Fleet, downS: number, settleS: number) {
  const { pool, site, within } = fleet;
  const settleMs = settleS * 1000;
  fleet.progress(`restarting the broker listener (down ${downS} s)`);
  await pool.all(() => ({ cmd: 'markDown' }), within(30_000));
  await site.control.faults.listener('stop');
  const offline = await pool.all(
    () => ({ cmd: 'waitOffline', timeoutMs: within(60_000) }),
    within(60_000 + REPLY_SLACK_MS),
  );
  if (offline.some((o) => o.allOfflineAt === null))
    fleet.problems.push('not every edge noticed the broker was gone within 60 s');
  await sleep(downS * 1000, { signal: fleet.signal, onAbort: 'reject' });
  const restartAt = Date.now();
  await site.control.faults.listener('start');
  const back = await pool.all(
    () => ({ cmd: 'waitBack', restartAt, timeoutMs: within(settleMs) }),
    within(settleMs + REPLY_SLACK_MS),
  );
  const aggregate = aggregateStorm(back, restartAt, Date.now());
  if (aggregate.allBackMs === null)
    fleet.problems.push(`only ${aggregate.back}/${fleet.devices} edges back within ${settleS} s of the broker restart`);
  const storm: NonNullable<FleetReport['reconnectStorm']> = { downS, ...aggregate };
  return { storm, back };
}

/** The first three errors the workers reported, for a problem line. */
function firstErrors(replies: ReadonlyArray<{ errors: string[] }>): string {
  return replies
    .flatMap((r) => r.errors)
    .slice(0, 3)
    .join(' | ');
}
