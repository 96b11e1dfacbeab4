/**
 * The fleet simulator: one mock cloud (in process), one mock site server (its own process), N simulated edges
 * running the real runtime library in this process. Phases, each bounded: pair all, connect all, stream
 * telemetry at the fleet-wide rate, optionally restart the broker listener and watch the reconnect storm, then
 * count what the site server received. Every figure comes from the edges' own state events or the site
 * server's control API.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { provideCloud } from '../bed/cloud.js';
import { LogBuffer } from '../bed/log-buffer.js';
import { sleep, waitUntil } from '../util/wait.js';
import { startSiteProcess } from './site-process.js';
import { SimulatedEdge } from './simulated-edge.js';
import { mapLimit, peakToMean, perSecond, summarize } from './stats.js';

export interface FleetOptions {
  devices: number;
  rate: number;
  durationS: number;
  restartBroker: boolean;
  downS: number;
  pairConcurrency: number;
  settleTimeoutS: number;
  progress: (line: string) => void;
}

export interface FleetReport {
  devices: number;
  implementation: string;
  pairing: { durationMs: number; perSecond: number };
  connect: ReturnType<typeof summarize> & { allOnlineMs: number | null; online: number };
  telemetry: { targetRate: number; durationS: number; enqueued: number; enqueueRate: number; receivedAtSite: number; receiveRate: number; duplicates: number; missing: number };
  reconnectStorm: null | {
    downS: number; attemptsPerSecond: number[]; totalAttempts: number; peak: number; mean: number; peakToMean: number | null;
    allBackMs: number | null; back: number; timeToBack: ReturnType<typeof summarize>;
  };
  memory: { rssPeakMb: number; rssEndMb: number; heapUsedEndMb: number; perEdgeKb: number };
  ok: boolean;
  problems: string[];
}

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

export async function runFleet(options: FleetOptions): Promise<FleetReport> {
  const problems: string[] = [];
  const root = mkdtempSync(join(tmpdir(), 'cst-hil-fleet-'));
  const logs = new LogBuffer(200);
  const cloud = await provideCloud({ host: '127.0.0.1', logs });
  let rssPeak = process.memoryUsage().rss;
  const sampler = setInterval(() => void (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 1000);
  const edges: SimulatedEdge[] = [];
  let site: Awaited<ReturnType<typeof startSiteProcess>> | undefined;
  try {
    const created = await cloud.admin.createSite(cloud.orgId, { name: 'HIL fleet', slug: `fleet-${randomBytes(3).toString('hex')}`, timezone: 'Australia/Perth' });
    site = await startSiteProcess({ cloudUrl: cloud.url, orgId: cloud.orgId, siteId: created.id, token: cloud.adminToken });
    options.progress(`site server ${site.mqttUrl} (pid ${site.pid}); pairing ${options.devices} edges`);

    // Pairing: the real pairing flow per edge, a bounded number at a time (the cloud is one process too).
    const runTag = randomBytes(4).toString('hex');
    const pairStart = Date.now();
    await mapLimit(Array.from({ length: options.devices }, (_, i) => i), options.pairConcurrency, async (i) => {
      const edge = await SimulatedEdge.create(root, i, runTag);
      edges.push(edge);
      const code = await cloud.admin.createPairingCode(cloud.orgId, created.id, {});
      await edge.pair(code.pairingUri);
      if ((i + 1) % 500 === 0) options.progress(`paired ${i + 1}/${options.devices}`);
    });
    const pairingMs = Date.now() - pairStart;

    // Connect: everyone boots at once, as after a site-wide power return.
    options.progress('connecting');
    const connectStart = Date.now();
    await Promise.all(edges.map((e) => e.start()));
    const allOnline = await waitUntil(() => edges.every((e) => e.isOnline), { timeoutMs: options.settleTimeoutS * 1000, what: 'every edge online', intervalMs: 250 })
      .then(() => Date.now() - connectStart, (error: Error) => { problems.push(error.message); return null; });
    const connectTimes = edges.filter((e) => e.onlineAt !== null).map((e) => e.onlineAt! - e.startedAt);

    // Telemetry: a fleet-wide rate, round-robin over the edges, through each edge's real outbox.
    options.progress(`streaming ${options.rate} msg/s for ${options.durationS} s`);
    const streamStart = Date.now();
    let sent = 0;
    let cursor = 0;
    const tickMs = 100;
    const pending = new Set<Promise<void>>();
    while (Date.now() - streamStart < options.durationS * 1000) {
      const due = Math.floor(((Date.now() - streamStart) / 1000) * options.rate) - sent;
      for (let k = 0; k < due; k++) {
        const edge = edges[cursor++ % edges.length]!;
        const p = edge.send(sent).catch((error: Error) => void problems.push(`enqueue on ${edge.edgeId}: ${error.message}`)).finally(() => pending.delete(p));
        pending.add(p);
        sent++;
      }
      await sleep(tickMs);
    }
    await Promise.all(pending);
    const streamMs = Date.now() - streamStart;
    // Received means seen by the site server; the drain is bounded so a stuck pipeline is a reported problem.
    const received = await waitUntil(async () => {
      const list = await site!.control.edges();
      const total = list.reduce((sum, e) => sum + e.counters.messages, 0);
      return total >= sent ? list : null;
    }, { timeoutMs: 60_000, what: `the site server to receive ${sent} messages`, intervalMs: 500 }).catch(async (error: Error) => {
      problems.push(error.message);
      return site!.control.edges();
    });
    const receivedCount = received.reduce((sum, e) => sum + e.counters.messages, 0);

    let storm: FleetReport['reconnectStorm'] = null;
    if (options.restartBroker) {
      options.progress(`restarting the broker listener (down ${options.downS} s)`);
      for (const e of edges) e.resetOnline();
      await site.control.faults.listener('stop');
      await waitUntil(() => edges.every((e) => !e.isOnline), { timeoutMs: 60_000, what: 'every edge to notice the broker is gone', intervalMs: 100 })
        .catch((error: Error) => void problems.push(error.message));
      await sleep(options.downS * 1000);
      const restartAt = Date.now();
      const attemptsBefore = edges.map((e) => e.attempts.length);
      await site.control.faults.listener('start');
      const allBack = await waitUntil(() => edges.every((e) => e.isOnline), { timeoutMs: options.settleTimeoutS * 1000, what: 'every edge back online after the broker restart', intervalMs: 100 })
        .then(() => Date.now() - restartAt, (error: Error) => { problems.push(error.message); return null; });
      const endAt = Date.now();
      const attempts = edges.flatMap((e, i) => e.attempts.slice(attemptsBefore[i]).filter((t) => t >= restartAt));
      const buckets = perSecond(attempts, restartAt, endAt);
      const shape = peakToMean(buckets);
      storm = {
        downS: options.downS, attemptsPerSecond: buckets, totalAttempts: attempts.length, ...shape, peakToMean: shape.ratio,
        allBackMs: allBack, back: edges.filter((e) => e.isOnline).length,
        timeToBack: summarize(edges.filter((e) => e.onlineAt !== null).map((e) => e.onlineAt! - restartAt)),
      };
    }

    const memory = process.memoryUsage();
    rssPeak = Math.max(rssPeak, memory.rss);
    const dup = received.reduce((sum, e) => sum + e.counters.duplicates, 0);
    const missing = received.reduce((sum, e) => sum + e.counters.missing, 0);
    if (missing > 0) problems.push(`${missing} seqs missing at the site server`);
    return {
      devices: options.devices,
      implementation: 'real runtime library: createEdgeRuntime + EdgeSession + DataPlane (outbox, drainer) per edge, one process',
      pairing: { durationMs: pairingMs, perSecond: Math.round((options.devices / Math.max(1, pairingMs)) * 1000 * 10) / 10 },
      connect: { ...summarize(connectTimes), allOnlineMs: allOnline, online: edges.filter((e) => e.isOnline).length },
      telemetry: {
        targetRate: options.rate, durationS: options.durationS, enqueued: sent, enqueueRate: Math.round((sent / (streamMs / 1000)) * 10) / 10,
        receivedAtSite: receivedCount, receiveRate: Math.round((receivedCount / (streamMs / 1000)) * 10) / 10, duplicates: dup, missing,
      },
      reconnectStorm: storm,
      memory: { rssPeakMb: mb(rssPeak), rssEndMb: mb(memory.rss), heapUsedEndMb: mb(memory.heapUsed), perEdgeKb: Math.round(memory.rss / 1024 / options.devices) },
      ok: problems.length === 0,
      problems,
    };
  } finally {
    clearInterval(sampler);
    await mapLimit(edges, 64, (e) => e.stop());
    await site?.close();
    await cloud.close();
    rmSync(root, { recursive: true, force: true });
  }
}
