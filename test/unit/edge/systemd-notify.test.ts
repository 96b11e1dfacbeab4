import { describe, expect, it } from 'vitest';
import { watchdogIntervalMs } from '../../../src/edge/systemd/notify.js';

describe('watchdogIntervalMs', () => {
  it('pings at half the timeout systemd asks for', () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' }, 42)).toBe(15_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, 42)).toBe(15_000);
  });

  it('stays within what a timer can do: at most 2^31-1 ms (longer fires at once), at least 100 ms', () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '4294967296000' }, 42)).toBe(2_147_483_647);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: String(Number.MAX_SAFE_INTEGER) }, 42)).toBe(2_147_483_647);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '1' }, 42)).toBe(100);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '1999' }, 42)).toBe(100);
  });

  it('does not ping when systemd asked none, asked another process, or sent garbage', () => {
    expect(watchdogIntervalMs({}, 42)).toBeNull();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '1' }, 42)).toBeNull();
    for (const usec of ['', '0', '-5', 'abc', '1e400', '1.5'])
      expect(watchdogIntervalMs({ WATCHDOG_USEC: usec }, 42), usec).toBeNull();
  });
});
