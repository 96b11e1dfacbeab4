import { describe, expect, it } from 'vitest';
import { SeqTracker } from '../../../src/mock/site-server/site/seq-tracker.js';

const T = '2026-01-01T00:00:00Z';

describe('SeqTracker', () => {
  it('counts in-order seqs as new', () => {
    const t = new SeqTracker();
    expect([1, 2, 3].map((s) => t.record(s, T))).toEqual(['new', 'new', 'new']);
    expect({ highest: t.highest, accepted: t.accepted, gaps: t.gaps(), missing: t.missing() }).toEqual({
      highest: 3,
      accepted: 3,
      gaps: [],
      missing: 0,
    });
  });

  it('flags redeliveries as duplicates', () => {
    const t = new SeqTracker();
    expect([1, 2, 2, 1].map((s) => t.record(s, T))).toEqual(['new', 'new', 'duplicate', 'duplicate']);
    expect(t.duplicates).toBe(2);
  });

  it('opens a gap on a jump and fills it piece by piece with late arrivals', () => {
    const t = new SeqTracker();
    t.record(1, T);
    t.record(6, T);
    expect(t.gaps().map((g) => [g.from, g.to])).toEqual([[2, 5]]);
    expect(t.record(4, T)).toBe('late');
    expect(t.gaps().map((g) => [g.from, g.to])).toEqual([
      [2, 3],
      [5, 5],
    ]);
    expect(t.record(4, T)).toBe('duplicate');
    for (const s of [2, 3, 5]) t.record(s, T);
    expect({ gaps: t.gaps(), detected: t.gapsDetected, accepted: t.accepted }).toEqual({
      gaps: [],
      detected: 1,
      accepted: 6,
    });
  });

  it('starting above 1 is a gap from 1', () => {
    const t = new SeqTracker();
    t.record(3, T);
    expect(t.missing()).toBe(2);
  });

  it('caps open gaps and counts what it forgot', () => {
    const t = new SeqTracker();
    for (let i = 1; i <= 1002; i++) t.record(i * 2, T);
    expect(t.gaps().length).toBe(1000);
    expect(t.forgottenGaps).toBe(2);
  });
});
