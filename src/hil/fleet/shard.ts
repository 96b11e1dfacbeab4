/**
 * One worker's share of the fleet: `count` simulated edges (the real runtime library) in this process. Each
 * method is one phase the parent drives; each wait is bounded by the timeout the parent passes, and on timeout
 * it answers with what it has (how many are online, …) rather than failing, so the parent can still report.
 * Times are wall-clock (`Date.now()`): every worker runs on the same machine, so the parent can line them up.
 */
import { MockCloudClient } from '../../mock/cloud/client.js';
import { sleep } from '../../common/time/sleep.js';
import type { Reply, ShardInit } from './protocol.js';
import { SimulatedEdge } from './simulated-edge.js';
import { mapLimit } from './stats.js';

/** How often the bounded waits look at the edges' state (cheap: in-memory flags). */
const POLL_MS = 100;
/** Errors quoted back per phase: enough to diagnose, bounded so 3 000 identical failures stay one line each. */
const MAX_ERRORS = 5;

export class FleetShard {
  private readonly edges: SimulatedEdge[] = [];
  private attemptsBefore: number[] = [];

  constructor(
    private readonly init: ShardInit,
    private readonly progress: (text: string) => void,
  ) {}

  async pair(): Promise<Reply<'pair'>> {
    const { init } = this;
    const cloud = new MockCloudClient(init.cloudUrl);
    cloud.setAccessToken(init.adminToken);
    const errors: string[] = [];
    let failed = 0;
    let paired = 0;
    const started = Date.now();
    await mapLimit(
      Array.from({ length: init.count }, (_, i) => init.firstIndex + i),
      init.pairConcurrency,
      async (index) => {
        try {
          const edge = await SimulatedEdge.create(init.root, index, init.runTag);
          const code = await cloud.createPairingCode(init.orgId, init.siteId, {});
          await edge.pair(code.pairingUri);
          this.edges.push(edge);
          if (++paired % 500 === 0) this.progress(`worker ${init.worker}: paired ${paired}/${init.count}`);
        } catch (error) {
          failed++;
          if (errors.length < MAX_ERRORS) errors.push(`fleet-${index}: ${(error as Error).message}`);
        }
      },
    );
    return { paired, failed, durationMs: Date.now() - started, errors };
  }

  async start(): Promise<Reply<'start'>> {
    const startedAt = Date.now();
    await Promise.all(this.edges.map((e) => e.start()));
    return { startedAt };
  }

  async waitOnline(timeoutMs: number): Promise<Reply<'waitOnline'>> {
    const allOnlineAt = await this.waitFor(() => this.edges.every((e) => e.isOnline), timeoutMs);
    const connectMs = this.edges.filter((e) => e.onlineAt !== null).map((e) => e.onlineAt! - e.startedAt);
    return { online: this.countOnline(), allOnlineAt, connectMs };
  }

  /** This worker's share of the fleet-wide rate, round-robin over its edges, through each edge's real outbox. */
  async stream(rate: number, durationS: number): Promise<Reply<'stream'>> {
    const errors: string[] = [];
    let sent = 0;
    let failed = 0;
    let cursor = 0;
    const pending = new Set<Promise<void>>();
    const started = Date.now();
    while (this.edges.length && Date.now() - started < durationS * 1000) {
      const due = Math.floor(((Date.now() - started) / 1000) * rate) - sent;
      for (let k = 0; k < due; k++) {
        const edge = this.edges[cursor++ % this.edges.length]!;
        const p = edge
          .send(sent)
          .catch((error: Error) => {
            failed++;
            if (errors.length < MAX_ERRORS) errors.push(`enqueue on ${edge.edgeId}: ${error.message}`);
          })
          .finally(() => pending.delete(p));
        pending.add(p);
        sent++;
      }
      await sleep(POLL_MS);
    }
    await Promise.all(pending);
    return { enqueued: sent - failed, failed, durationMs: Date.now() - started, errors };
  }

  /** Before the broker goes away: the next `online` of each edge counts as "back", and attempts are counted from here. */
  markDown(): Reply<'markDown'> {
    for (const e of this.edges) e.resetOnline();
    this.attemptsBefore = this.edges.map((e) => e.attempts.length);
    return { marked: this.edges.length };
  }

  async waitOffline(timeoutMs: number): Promise<Reply<'waitOffline'>> {
    const allOfflineAt = await this.waitFor(() => this.edges.every((e) => !e.isOnline), timeoutMs);
    return { offline: this.edges.length - this.countOnline(), allOfflineAt };
  }

  async waitBack(restartAt: number, timeoutMs: number): Promise<Reply<'waitBack'>> {
    const allBackAt = await this.waitFor(() => this.edges.every((e) => e.isOnline), timeoutMs);
    const attempts = this.edges.flatMap((e, i) =>
      e.attempts.slice(this.attemptsBefore[i] ?? 0).filter((t) => t >= restartAt),
    );
    const backAt = this.edges.filter((e) => e.isOnline && e.onlineAt !== null).map((e) => e.onlineAt!);
    return { back: this.countOnline(), allBackAt, attempts, backAt };
  }

  /** Stops every edge (SQLite closed, MQTT ended); the worker calls it on its way out. */
  async stop(): Promise<void> {
    await mapLimit(this.edges, 64, (e) => e.stop());
  }

  private countOnline(): number {
    return this.edges.reduce((n, e) => n + (e.isOnline ? 1 : 0), 0);
  }

  /** Polls `done` until it holds (returns when, wall clock) or `timeoutMs` passes (returns null). */
  private async waitFor(done: () => boolean, timeoutMs: number): Promise<number | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (done()) return Date.now();
      if (Date.now() >= deadline) return null;
      await sleep(Math.min(POLL_MS, deadline - Date.now()));
    }
  }
}
