import { describe, expect, it } from 'vitest';
import { Backoff, backoffDelay, parseRetryAfter } from '../../../src/edge/backoff.js';

const policy = { baseMs: 1000, capMs: 60_000, minMs: 500 };

describe('backoff', () => {
  it('grows exponentially up to the cap', () => {
    const top = (attempt: number) => backoffDelay(attempt, policy, { random: () => 1 });
    expect([0, 1, 2, 3, 4, 5, 6, 7, 20, 100].map(top)).toEqual([
      1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000, 60000,
    ]);
  });

  it('draws full jitter between the floor and the ceiling', () => {
    expect(backoffDelay(5, policy, { random: () => 0 })).toBe(500);
    for (let i = 0; i < 500; i++) {
      const d = backoffDelay(4, policy);
      expect(d).toBeGreaterThanOrEqual(500);
      expect(d).toBeLessThanOrEqual(16_000);
    }
  });

  it('honours a Retry-After hint as a lower bound, itself capped', () => {
    expect(backoffDelay(0, policy, { hintMs: 7000, random: () => 0 })).toBe(7000);
    expect(backoffDelay(0, { ...policy, maxHintMs: 10_000 }, { hintMs: 3_600_000, random: () => 0 })).toBe(10_000);
    expect(backoffDelay(0, policy, { hintMs: -5, random: () => 0 })).toBe(500);
  });

  it('parses Retry-After seconds and HTTP dates, ignores garbage', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
    expect(parseRetryAfter('-1', now)).toBeNull();
  });

  it('resets after a stable period', () => {
    const b = new Backoff(policy, () => 1);
    expect([b.next(), b.next(), b.next()]).toEqual([1000, 2000, 4000]);
    b.reset();
    expect(b.next()).toBe(1000);
  });
});
