/**
 * Statistics and table formatting for the bench suite. Pure functions (unit-tested in test/unit/bench): every
 * bench reports the median and p95 of its samples and the ratio of its median to the baseline's median, and no
 * number here is ever compared with a threshold inside a test.
 */

export interface Summary {
  n: number;
  median: number;
  /** Nearest-rank 95th percentile (for n < 20 this is the maximum or close to it). */
  p95: number;
  min: number;
  max: number;
  mean: number;
  /** (max - min) / median: the spread of the runs, as a fraction of the median. */
  spread: number;
}

/** Median of a non-empty list (the mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile, p in (0, 100]. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError('percentile of an empty list');
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) throw new RangeError('summary of an empty list');
  for (const v of values) if (!Number.isFinite(v)) throw new RangeError(`not a finite sample: ${v}`);
  const m = median(values);
  const min = Math.min(...values);
  const max = Math.max(...values);
  return {
    n: values.length,
    median: m,
    p95: percentile(values, 95),
    min,
    max,
    mean: values.reduce((a, b) => a + b, 0) / values.length,
    spread: m === 0 ? 0 : (max - min) / m,
  };
}

/** a / b, or null when either is missing or b is 0. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a == null || b == null || b === 0 || !Number.isFinite(a) || !Number.isFinite(b)) return null;
  return a / b;
}

export type TargetVerdict = 'met' | 'missed' | 'n/a';

export interface Target {
  name: string;
  /** What was measured (e.g. the median), in `unit`. */
  value: number | null;
  /** The limit, in `unit`. */
  limit: number;
  unit: string;
  /** 'max': value must be ≤ limit; 'min': value must be ≥ limit. */
  kind: 'max' | 'min';
  verdict: TargetVerdict;
  /** How far from the limit, as a signed fraction of it: positive = headroom, negative = missed by. */
  margin: number | null;
}

export function target(
  name: string,
  value: number | null | undefined,
  limit: number,
  unit: string,
  kind: 'max' | 'min',
): Target {
  if (value == null || !Number.isFinite(value))
    return { name, value: null, limit, unit, kind, verdict: 'n/a', margin: null };
  const ok = kind === 'max' ? value <= limit : value >= limit;
  const margin = kind === 'max' ? (limit - value) / limit : (value - limit) / limit;
  return { name, value, limit, unit, kind, verdict: ok ? 'met' : 'missed', margin };
}

export function describeTarget(t: Target): string {
  if (t.verdict === 'n/a') return `${t.name}: not measured`;
  const sign = t.kind === 'max' ? '≤' : '≥';
  const by = Math.abs(t.margin ?? 0) * 100;
  return `${t.name}: ${fmtNumber(t.value!)} ${t.unit} (target ${sign} ${fmtNumber(t.limit)} ${t.unit}) → ${t.verdict.toUpperCase()}${t.verdict === 'met' ? ` with ${by.toFixed(0)} % headroom` : ` by ${by.toFixed(0)} %`}`;
}

/** Three significant digits for small values, whole numbers (with thin grouping) above 1000. */
export function fmtNumber(value: number | null | undefined): string {
  if (value == null || !Number.isFinite(value)) return '–';
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export function fmtRatio(value: number | null | undefined): string {
  return value == null || !Number.isFinite(value) ? '–' : `${value.toFixed(2)}×`;
}

export interface TableRow {
  case: string;
  summary: Summary | null;
  unit: string;
  /** Ratio of this row's median to its baseline's median. */
  ratio?: number | null;
  /** The baseline this row is compared with, or 'baseline' for the baseline row itself. */
  role?: string;
  note?: string;
}

/** A plain-text table for the terminal. */
export function textTable(title: string, rows: readonly TableRow[]): string {
  const header = ['case', 'n', 'median', 'p95', 'min–max', 'unit', 'ratio', 'note'];
  const body = rows.map((r) => [
    r.case,
    r.summary ? String(r.summary.n) : '0',
    fmtNumber(r.summary?.median),
    fmtNumber(r.summary?.p95),
    r.summary ? `${fmtNumber(r.summary.min)}–${fmtNumber(r.summary.max)}` : '–',
    r.unit,
    r.role === 'baseline' ? 'baseline' : fmtRatio(r.ratio),
    r.note ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 || i >= 6 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [title, line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** The same rows as a GitHub-flavoured markdown table. */
export function markdownTable(rows: readonly TableRow[]): string {
  const out = ['| case | n | median | p95 | min–max | unit | vs baseline |', '|---|---:|---:|---:|---:|---|---:|'];
  for (const r of rows) {
    const s = r.summary;
    out.push(
      `| ${r.case}${r.note ? ` (${r.note})` : ''} | ${s?.n ?? 0} | ${fmtNumber(s?.median)} | ${fmtNumber(s?.p95)} | ${s ? `${fmtNumber(s.min)}–${fmtNumber(s.max)}` : '–'} | ${r.unit} | ${r.role === 'baseline' ? 'baseline' : fmtRatio(r.ratio)} |`,
    );
  }
  return out.join('\n');
}
