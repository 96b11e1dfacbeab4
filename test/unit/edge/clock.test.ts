/** EdgeClock's rules for a local clock that is set while or between runs (issue 12.4), on simulated clocks. */
import { describe, expect, it } from 'vitest';
import { CLOCK_JUMP_MS, EdgeClock, type SavedOffset } from '../../../src/edge/clock.js';

const YEAR_MS = 365 * 86_400_000;
const REAL = Date.parse('2026-11-26T12:00:00Z');
const BOARD_1970 = Date.parse('1970-01-02T00:00:00Z');

function machine(localMs: number, bootId = 'boot-a') {
  const m = { local: localMs, monotonic: 0, uptime: 60_000, bootId };
  return {
    m,
    sources: { local: () => m.local, monotonic: () => m.monotonic, uptimeMs: () => m.uptime, bootId: () => m.bootId },
    /** Time passes: both clocks advance. */
    pass(ms: number) {
      m.local += ms;
      m.monotonic += ms;
      m.uptime += ms;
    },
  };
}

describe('EdgeClock', () => {
  it('follows a local clock set while running: a board paired at 1970 ends near zero offset', () => {
    const saves: SavedOffset[] = [];
    const board = machine(BOARD_1970);
    const clock = new EdgeClock(null, (s) => saves.push(s), board.sources);
    clock.observe({ serverMs: REAL, localMs: board.m.local });
    expect(clock.skewMs).toBeGreaterThan(50 * YEAR_MS);
    board.pass(10_000);
    board.m.local = REAL + 10_500; // NTP steps the clock
    expect(Math.abs(clock.now() - (REAL + 10_000))).toBeLessThan(1_000);
    expect(Math.abs(clock.skewMs)).toBeLessThan(1_000);
    expect(Math.abs(saves.at(-1)!.offsetMs)).toBeLessThan(1_000);
  });

  it('ignores jitter below the jump threshold', () => {
    const board = machine(REAL);
    const clock = new EdgeClock(
      { offsetMs: 2_000, localMs: REAL, bootId: 'boot-a', uptimeMs: 60_000 },
      () => {},
      board.sources,
    );
    board.pass(1_000);
    board.m.local += CLOCK_JUMP_MS - 1_000;
    expect(clock.skewMs).toBe(2_000);
  });

  it('drops a saved offset when the clock was set between two runs of the same boot', () => {
    const board = machine(REAL);
    board.m.uptime = 120_000;
    // Saved by the previous run at 1970 local, 60 s after boot; now 60 s later the local clock reads 2026.
    const saved = { offsetMs: REAL - BOARD_1970, localMs: BOARD_1970, bootId: 'boot-a', uptimeMs: 60_000 };
    const clock = new EdgeClock(saved, () => {}, board.sources);
    expect(Math.abs(clock.now() - REAL)).toBeLessThan(61_000);
  });

  it('keeps the offset of a board without RTC that boots at 1970 again', () => {
    const board = machine(BOARD_1970, 'boot-b');
    const saved = {
      offsetMs: REAL - BOARD_1970,
      localMs: BOARD_1970 + 3_600_000,
      bootId: 'boot-a',
      uptimeMs: 3_600_000,
    };
    const clock = new EdgeClock(saved, () => {}, board.sources);
    expect(clock.skewMs).toBe(saved.offsetMs);
  });

  it('drops a years-ahead offset once the local clock is plausible after a reboot, and an old bare offset too', () => {
    const board = machine(REAL, 'boot-b');
    const saved = { offsetMs: REAL - BOARD_1970, localMs: BOARD_1970, bootId: 'boot-a', uptimeMs: 60_000 };
    expect(new EdgeClock(saved, () => {}, board.sources).skewMs).toBe(0);
    const bare = { offsetMs: REAL - BOARD_1970, localMs: null, bootId: null, uptimeMs: null };
    expect(new EdgeClock(bare, () => {}, board.sources).skewMs).toBe(0);
    // A clock running 3 years ahead keeps its (negative) correction.
    const ahead = { offsetMs: -3 * YEAR_MS, localMs: REAL, bootId: 'boot-a', uptimeMs: 60_000 };
    expect(new EdgeClock(ahead, () => {}, board.sources).skewMs).toBe(-3 * YEAR_MS);
  });
});
