/** The bench suite's statistics and report helpers (scripts/bench/lib/stats.ts). No speed is asserted anywhere. */
import { describe, expect, it } from 'vitest';
import {
  describeTarget,
  fmtNumber,
  fmtRatio,
  markdownTable,
  median,
  percentile,
  ratio,
  summarize,
  target,
  textTable,
} from '../../../scripts/bench/lib/stats.js';

describe('median and percentile', () => {
  it('takes the middle value, or the mean of the two middle values', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });

  it('does not reorder its input', () => {
    const values = [3, 1, 2];
    median(values);
    percentile(values, 95);
    expect(values).toEqual([3, 1, 2]);
  });

  it('uses the nearest rank for percentiles', () => {
    const values = Array.from({ length: 20 }, (_, i) => i + 1);
    expect(percentile(values, 95)).toBe(19);
    expect(percentile(values, 100)).toBe(20);
    expect(percentile(values, 50)).toBe(10);
    expect(percentile([5, 1], 95)).toBe(5);
  });

  it('refuses empty lists and impossible percentiles', () => {
    expect(() => median([])).toThrow(RangeError);
    expect(() => percentile([1], 0)).toThrow(RangeError);
    expect(() => percentile([1], 101)).toThrow(RangeError);
    expect(() => summarize([1, Number.NaN])).toThrow(RangeError);
  });
});

describe('summarize', () => {
  it('reports n, median, p95, min, max, mean and the spread relative to the median', () => {
    expect(summarize([10, 20, 30, 40])).toEqual({
      n: 4,
      median: 25,
      p95: 40,
      min: 10,
      max: 40,
      mean: 25,
      spread: 30 / 25,
    });
  });
});

describe('ratio and targets', () => {
  it('divides medians, and gives null for a missing or zero baseline', () => {
    expect(ratio(50, 100)).toBe(0.5);
    expect(ratio(1, 0)).toBeNull();
    expect(ratio(null, 1)).toBeNull();
    expect(ratio(1, undefined)).toBeNull();
  });

  it('says met or missed, and by how much, for upper and lower limits', () => {
    const fast = target('cold start', 80, 100, 'ms', 'max');
    expect(fast).toMatchObject({ verdict: 'met', margin: 0.2 });
    expect(describeTarget(fast)).toContain('MET with 20 % headroom');
    const fat = target('idle RSS', 66, 50, 'MiB', 'max');
    expect(fat).toMatchObject({ verdict: 'missed', margin: -0.32 });
    expect(describeTarget(fat)).toContain('MISSED by 32 %');
    expect(target('drain / raw', 0.9, 0.8, '×', 'min').verdict).toBe('met');
    expect(target('enqueue', 40_000, 50_000, 'msg/s', 'min')).toMatchObject({ verdict: 'missed', margin: -0.2 });
    expect(target('x', null, 1, 'ms', 'max').verdict).toBe('n/a');
    expect(describeTarget(target('x', undefined, 1, 'ms', 'max'))).toBe('x: not measured');
  });
});

describe('formatting', () => {
  it('formats numbers by magnitude and ratios with two decimals', () => {
    expect(fmtNumber(123_456.7)).toBe('123,457');
    expect(fmtNumber(123.4)).toBe('123');
    expect(fmtNumber(12.34)).toBe('12.3');
    expect(fmtNumber(1.234)).toBe('1.23');
    expect(fmtNumber(null)).toBe('–');
    expect(fmtRatio(0.7)).toBe('0.70×');
    expect(fmtRatio(null)).toBe('–');
  });

  it('renders text and markdown tables with the baseline marked', () => {
    const rows = [
      { case: 'edge', summary: summarize([40, 50, 60]), unit: 'ms', ratio: 0.5 },
      { case: 'bare client', summary: summarize([100]), unit: 'ms', role: 'baseline' },
      { case: 'missing', summary: null, unit: 'ms', ratio: null },
    ];
    const text = textTable('cold start', rows);
    expect(text.split('\n')[0]).toBe('cold start');
    expect(text).toMatch(/edge\s+3\s+50\.0\s+60\.0\s+40\.0–60\.0\s+ms\s+0\.50×/);
    expect(text).toMatch(/bare client.*baseline/);
    const md = markdownTable(rows).split('\n');
    expect(md[0]).toBe('| case | n | median | p95 | min–max | unit | vs baseline |');
    expect(md[2]).toBe('| edge | 3 | 50.0 | 60.0 | 40.0–60.0 | ms | 0.50× |');
    expect(md[3]).toContain('| baseline |');
    expect(md[4]).toBe('| missing | 0 | – | – | – | ms | – |');
  });
});
