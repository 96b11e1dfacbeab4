import { describe, expect, it } from 'vitest';
import { watchdogIntervalMs } from '../../../src/edge/systemd/notify.js';

describe('watchdogIntervalMs', () => {
  it('pings at half the timeout systemd asks for', () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' }, 42)).toBe(15_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, 42)).toBe(15_000);
  });

  it('does not ping when systemd asked none, asked another process, or sent garbage', () => {
    expect(watchdogIntervalMs({}, 42)).toBeNull();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '1' }, 42)).toBeNull();
    for (const usec of ['', '0', '-5', 'abc', '1e400', '1.5'])
      expect(watchdogIntervalMs({ WATCHDOG_USEC: usec }, 42), usec).toBeNull();
  });
});
