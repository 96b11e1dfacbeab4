/**
 * One simulated edge: the real runtime library (`createEdgeRuntime`), its real session and data plane (outbox,
 * drainer), with its own state dir and hardware id; many live in one process. It records when each connect
 * attempt started and when it came online, which is all the storm measurements need.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { DataPlane } from '../../edge/data/data-plane.js';
import { silentLogger } from '../../common/log/log.js';
import { pairingInputFrom } from '../../edge/pairing/inputs.js';
import { createEdgeRuntime, type EdgeRuntime } from '../../edge/runtime.js';
import type { EdgeSession } from '../../edge/session/session.js';

export class SimulatedEdge {
  readonly attempts: number[] = [];
  onlineAt: number | null = null;
  startedAt = 0;
  enqueued = 0;
  private session: EdgeSession | null = null;
  private data: DataPlane | null = null;
  private online = false;

  private constructor(
    readonly edgeId: string,
    private readonly runtime: EdgeRuntime,
    private readonly stateDir: string,
  ) {}

  static async create(root: string, index: number, runTag: string): Promise<SimulatedEdge> {
    const edgeId = `fleet-${index}`;
    const stateDir = join(root, edgeId);
    const hardwareId = createHash('sha256').update(`${runTag}:${index}`).digest('hex');
    const runtime = await createEdgeRuntime({ stateDir, hardwareId, logger: silentLogger, hostname: edgeId });
    return new SimulatedEdge(edgeId, runtime, stateDir);
  }

  async pair(uri: string): Promise<void> {
    await this.runtime.pair(pairingInputFrom({ uri, edgeId: this.edgeId }));
  }

  get isOnline(): boolean {
    return this.online;
  }

  async start(): Promise<void> {
    const session = this.runtime.createSession();
    this.session = session;
    this.data = new DataPlane({
      outbox: this.runtime.outbox(),
      session,
      stateDir: this.stateDir,
      clock: this.runtime.clock,
      logger: silentLogger,
      producer: { kind: 'off' },
    });
    session.on('state', (state) => {
      if (state === 'connecting') this.attempts.push(Date.now());
      this.online = state === 'online';
      if (this.online && this.onlineAt === null) this.onlineAt = Date.now();
    });
    await this.data.start();
    this.startedAt = Date.now();
    session.start();
  }

  /** Marks a new phase (after a broker restart): the next `online` sets `onlineAt` again. */
  resetOnline(): void {
    this.onlineAt = null;
  }

  async send(value: number): Promise<void> {
    await this.runtime
      .outbox()
      .enqueue('telemetry', [{ tag: 'fleet.value', ts: new Date(this.runtime.clock.now()).toISOString(), value }]);
    this.enqueued++;
  }

  async stop(): Promise<void> {
    await this.data?.stop().catch(() => undefined);
    await this.session?.stop().catch(() => undefined);
    this.runtime.close();
  }
}
