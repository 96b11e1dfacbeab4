/**
 * The built-in system-metrics source: every `intervalSeconds` it samples CPU, memory, disk (of the state dir),
 * load, uptime and temperatures and hands them to `sink` (the runtime passes `records => outbox.enqueue('telemetry',
 * records)`), so a freshly flashed device sends real data. Per-instance state only; a failed sink is logged, never
 * thrown, and the next tick tries again.
 */
import type { TelemetryRecord } from '../../protocol/messages.js';
import { silentLogger, type Logger } from '../../common/log/log.js';
import {
  cpuPercent,
  readCpuTimes,
  readDisk,
  readLoad,
  readMemory,
  readTemperatures,
  readUptimeSeconds,
  type CpuTimes,
  type MetricPaths,
} from './readers.js';

export interface SystemMetricsOptions {
  sink: (records: TelemetryRecord[]) => Promise<unknown>;
  /** The edge's state directory: its filesystem is the one whose filling up stops the outbox. */
  stateDir: string;
  intervalSeconds?: number;
  paths?: Partial<MetricPaths>;
  clock?: { now(): number };
  logger?: Logger;
}

export class SystemMetrics {
  private readonly paths: MetricPaths;
  private readonly clock: { now(): number };
  private readonly logger: Logger;
  private intervalSeconds: number;
  private previousCpu: CpuTimes | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly options: SystemMetricsOptions) {
    this.paths = { procRoot: '/proc', sysRoot: '/sys', ...options.paths };
    this.clock = options.clock ?? { now: Date.now };
    this.logger = options.logger ?? silentLogger;
    this.intervalSeconds = validInterval(options.intervalSeconds ?? 60);
  }

  /** One sample. CPU % needs two readings, so the first sample after start has no `system.cpu.percent`. */
  async sample(): Promise<TelemetryRecord[]> {
    const ts = new Date(this.clock.now()).toISOString();
    const records: TelemetryRecord[] = [];
    const add = (tag: string, value: number | null | undefined) => {
      if (value !== null && value !== undefined && Number.isFinite(value))
        records.push({ tag, ts, value, quality: 'good' });
    };
    const [cpu, mem, disk, load, uptime, temps] = await Promise.all([
      readCpuTimes(this.paths),
      readMemory(this.paths),
      readDisk(this.options.stateDir),
      readLoad(this.paths),
      readUptimeSeconds(this.paths),
      readTemperatures(this.paths),
    ]);
    if (cpu && this.previousCpu) add('system.cpu.percent', cpuPercent(this.previousCpu, cpu));
    if (cpu) this.previousCpu = cpu;
    add('system.mem.used_bytes', mem?.usedBytes);
    add('system.mem.total_bytes', mem?.totalBytes);
    add('system.disk.used_percent', disk?.usedPercent);
    add('system.disk.free_bytes', disk?.freeBytes);
    add('system.load.1m', load?.[0]);
    add('system.load.5m', load?.[1]);
    add('system.load.15m', load?.[2]);
    add('system.uptime_s', uptime);
    for (const t of temps) add(`system.temp.${t.type}`, t.celsius);
    return records;
  }

  start(): void {
    if (this.timer) return;
    // The first reading primes the CPU counters; data flows from the first interval on.
    this.runTick(false);
    this.schedule();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Hot reload of `metricsSeconds` from a config push. */
  setInterval(seconds: number): void {
    this.intervalSeconds = validInterval(seconds);
    if (this.timer) this.schedule();
  }

  private schedule(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = setInterval(() => this.runTick(true), this.intervalSeconds * 1000);
    this.timer.unref?.();
  }

  private runTick(send: boolean): void {
    // tick() catches its own failures; this only keeps a logger fault from becoming an unhandled rejection.
    this.tick(send).catch(() => {});
  }

  private async tick(send: boolean): Promise<void> {
    try {
      const records = await this.sample();
      if (send && records.length > 0) await this.options.sink(records);
    } catch (error) {
      this.logger.warn('metrics.sample_failed', { error });
    }
  }
}

function validInterval(seconds: number): number {
  if (!Number.isFinite(seconds) || seconds < 1 || seconds > 3600)
    throw new RangeError('metrics interval must be 1..3600 seconds');
  return seconds;
}
