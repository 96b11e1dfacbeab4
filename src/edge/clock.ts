/**
 * Time for token decisions. Boards without an RTC boot in 1970 and NTP may never reach a mine site, so the
 * device keeps `offset = server time − local time`, measured from every cloud answer (`serverTime`, else the
 * `Date` header), persisted, and judges token lifetimes and signs assertions on the corrected clock. When the
 * local clock is set (NTP arrives late, a technician), the offset follows, see EdgeClock.
 */
import { readFileSync } from 'node:fs';
import { BUILD_TIME } from './version.js';

export interface Clock {
  /** Corrected milliseconds since the epoch. */
  now(): number;
}

const FLOOR_MS = Date.parse('2025-01-01T00:00:00Z');
const BUILT_MS = Date.parse(BUILD_TIME);
/**
 * Earliest plausible wall-clock time: a clock that reads earlier than the moment this binary was built is
 * certainly wrong (no RTC, 1970). From source, where there is no build time, 2025-01-01.
 */
export const PLAUSIBLE_AFTER_MS = Number.isNaN(BUILT_MS) ? FLOOR_MS : Math.max(FLOOR_MS, BUILT_MS);
/** A skew above this is reported as a problem by `doctor` and in the pairing steps. */
export const SKEW_WARNING_MS = 5 * 60_000;

export interface ServerTimeSample {
  /** The server's time from `serverTime` (ms precision) or the `Date` header (1 s precision). */
  serverMs: number;
  /** The local time when the answer arrived. */
  localMs: number;
}

/**
 * What is persisted with the offset, so the next process can tell whether the local clock was set since: the local
 * time of the measurement, and the kernel's boot id and uptime then (both unknown off Linux).
 */
export interface SavedOffset {
  offsetMs: number;
  localMs: number | null;
  bootId: string | null;
  uptimeMs: number | null;
}

/** Where the clock reads the machine: wall time (faked in tests), monotonic time, boot id and uptime. */
export interface ClockSources {
  local: () => number;
  monotonic: () => number;
  bootId: () => string | null;
  uptimeMs: () => number | null;
}

/**
 * A step of the local clock larger than this (wall time moving differently from monotonic time) means it was set:
 * NTP after boot, an RTC, a technician. Smaller differences are jitter and slewing, corrected by the next answer.
 */
export const CLOCK_JUMP_MS = 5_000;
/** With no way to compare (another boot), a saved offset that puts a plausible local clock this far ahead is stale. */
const STALE_AHEAD_MS = 365 * 86_400_000;

function procUptimeMs(): number | null {
  const seconds = Number.parseFloat(readProc('/proc/uptime') ?? '');
  return Number.isFinite(seconds) ? Math.round(seconds * 1000) : null;
}

/**
 * The reference that steps are measured against is the kernel's uptime (CLOCK_BOOTTIME, read from /proc) where there
 * is one, not the process's monotonic clock: it counts suspended time as the wall clock does (CLOCK_MONOTONIC stops
 * during suspend, which would look like a step on resume), and no process-level tool moves it (libfaketime fakes
 * CLOCK_MONOTONIC along with the wall clock, so a step and elapsed time looked the same and a step back after a cloud
 * measurement went unnoticed, leaving corrected time 40 days behind). Chosen once: mixing sources would be a step.
 */
let lastUptimeMs = procUptimeMs();

export const systemClockSources: ClockSources = {
  local: Date.now,
  monotonic:
    lastUptimeMs === null
      ? () => performance.now()
      : () => {
          lastUptimeMs = procUptimeMs() ?? lastUptimeMs; // a failed read: no step seen this time
          return lastUptimeMs as number;
        },
  bootId: () => readProc('/proc/sys/kernel/random/boot_id'),
  uptimeMs: procUptimeMs,
};

function readProc(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/**
 * The corrected clock. Rules (issue 12.4):
 * - every cloud answer re-measures the offset;
 * - a step of the local clock while running (wall and monotonic time disagree by more than CLOCK_JUMP_MS) moves the
 *   offset by the opposite amount, so corrected time stays continuous: a board paired at 1970 whose clock NTP then
 *   sets ends with an offset near zero, not 56 years ahead;
 * - at start, a saved offset is kept only if the local clock was not set since: same boot, wall time moved as much
 *   as uptime did; another boot, the local clock is still implausible (no RTC: back at 1970, offset still needed)
 *   or the offset does not put a plausible local clock a year ahead. Otherwise it is dropped until the next answer.
 */
export class EdgeClock implements Clock {
  private offsetMs: number;
  private anchorLocal: number;
  private anchorMonotonic: number;
  private readonly source: ClockSources;

  constructor(
    saved: SavedOffset | null,
    private readonly persist: (saved: SavedOffset) => void,
    sources: Partial<ClockSources> = {},
  ) {
    this.source = { ...systemClockSources, ...sources };
    this.anchorLocal = this.source.local();
    this.anchorMonotonic = this.source.monotonic();
    this.offsetMs = saved ? this.offsetStillValid(saved) : 0;
  }

  now(): number {
    this.followLocalSteps();
    return this.source.local() + this.offsetMs;
  }

  get skewMs(): number {
    this.followLocalSteps();
    return this.offsetMs;
  }

  /** True when the local clock alone cannot be trusted and no server time corrected it yet. */
  get localClockImplausible(): boolean {
    return this.source.local() < PLAUSIBLE_AFTER_MS;
  }

  /**
   * A fresh measurement replaces whatever offset is held (saved, or moved by steps). `save: false` for read-only
   * commands (`doctor`): they judge with it, and leave saving to the service.
   */
  observe(sample: ServerTimeSample, options: { save?: boolean } = {}): void {
    this.followLocalSteps();
    const offset = Math.round(sample.serverMs - sample.localMs);
    const changed = Math.abs(offset - this.offsetMs) >= 1000;
    this.offsetMs = offset;
    // Persist only meaningful changes: every cloud answer would otherwise cost a FULL-sync write.
    if (changed && options.save !== false) this.save();
  }

  /** Not saved here: `status` reads without writing, and the saved anchor gives every process the same answer. */
  private offsetStillValid(saved: SavedOffset): number {
    const local = this.anchorLocal;
    const bootId = this.source.bootId();
    const uptime = this.source.uptimeMs();
    const offset = saved.offsetMs;
    const sameBoot = saved.bootId !== null && saved.bootId === bootId;
    if (sameBoot && saved.localMs !== null && saved.uptimeMs !== null && uptime !== null) {
      const step = local - saved.localMs - (uptime - saved.uptimeMs);
      return Math.abs(step) > CLOCK_JUMP_MS ? Math.round(offset - step) : offset;
    }
    return local >= PLAUSIBLE_AFTER_MS && offset > STALE_AHEAD_MS ? 0 : offset;
  }

  private followLocalSteps(): void {
    const local = this.source.local();
    const monotonic = this.source.monotonic();
    const step = local - this.anchorLocal - (monotonic - this.anchorMonotonic);
    this.anchorLocal = local;
    this.anchorMonotonic = monotonic;
    if (Math.abs(step) > CLOCK_JUMP_MS) {
      this.offsetMs = Math.round(this.offsetMs - step);
      this.save();
    }
  }

  private save(): void {
    this.persist({
      offsetMs: this.offsetMs,
      localMs: this.source.local(),
      bootId: this.source.bootId(),
      uptimeMs: this.source.uptimeMs(),
    });
  }
}
