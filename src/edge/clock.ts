/**
 * Time for token decisions. Boards without an RTC boot in 1970 and NTP may never reach a mine site, so the
 * device keeps `offset = server time − local time`, measured from every cloud answer (`serverTime`, else the
 * `Date` header), persisted, and judges token lifetimes and signs assertions on the corrected clock.
 */
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

export class EdgeClock implements Clock {
  constructor(
    private offsetMs: number,
    private readonly persist: (offsetMs: number) => void,
    private readonly local: () => number = Date.now,
  ) {}

  now(): number {
    return this.local() + this.offsetMs;
  }

  get skewMs(): number {
    return this.offsetMs;
  }

  /** True when the local clock alone cannot be trusted and no server time corrected it yet. */
  get localClockImplausible(): boolean {
    return this.local() < PLAUSIBLE_AFTER_MS;
  }

  observe(sample: ServerTimeSample): void {
    const offset = Math.round(sample.serverMs - sample.localMs);
    // Persist only meaningful changes: every cloud answer would otherwise cost a FULL-sync write.
    if (Math.abs(offset - this.offsetMs) >= 1000) this.persist(offset);
    this.offsetMs = offset;
  }
}
