/**
 * Durations and clock skew for people: "56.9 years behind", "3.2 s ahead", never raw seconds a technician has
 * to divide in their head.
 */
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const YEAR = 365.25 * DAY;

/** A duration rounded to one decimal in the largest unit that keeps it readable ("90 s", "2.5 h", "56.9 years"). */
export function humanDuration(ms: number): string {
  const abs = Math.abs(ms);
  const one = (value: number) => (Math.round(value * 10) / 10).toString();
  if (abs < 2 * MINUTE) return `${one(abs / SECOND)} s`;
  if (abs < 2 * HOUR) return `${one(abs / MINUTE)} min`;
  if (abs < 2 * DAY) return `${one(abs / HOUR)} h`;
  if (abs < YEAR) return `${one(abs / DAY)} days`;
  return `${one(abs / YEAR)} years`;
}

/**
 * `skewMs` is cloud time − local time (the clock's offset): positive means the local clock is behind.
 * Under 50 ms it is "in step". `reference` is whose time it was measured against (the site server, air-gapped).
 */
export function describeSkew(skewMs: number, reference = 'the cloud'): string {
  if (Math.abs(skewMs) < 50) return `in step with ${reference}`;
  return `${humanDuration(skewMs)} ${skewMs > 0 ? 'behind' : 'ahead of'} ${reference}`;
}
