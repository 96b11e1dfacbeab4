import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../../src/edge/outbox/token-bucket.js';

describe('TokenBucket', () => {
  it('allows the burst at once, then refills at the rate', () => {
    let now = 0;
    const bucket = new TokenBucket({ perSecond: 10, burst: 3 }, () => now);
    expect([bucket.take(), bucket.take(), bucket.take()]).toEqual([0, 0, 0]);
    expect(bucket.take()).toBe(100); // one token every 100 ms, nothing taken
    now = 50;
    expect(bucket.take()).toBe(50);
    now = 100;
    expect(bucket.take()).toBe(0);
    now = 10_000; // a long pause refills to the burst, never beyond
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([0, 0, 0, 100]);
  });

  it('refuses a nonsensical rate', () => {
    expect(() => new TokenBucket({ perSecond: 0, burst: 1 })).toThrow(RangeError);
    expect(() => new TokenBucket({ perSecond: 5, burst: 0 })).toThrow(RangeError);
  });
});
