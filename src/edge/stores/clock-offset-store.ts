/**
 * The clock offset and the anchor it was measured at (see EdgeClock), as JSON in the kv table. Versions before
 * issue 12.4 kept the bare offset under `clock_offset_ms`: it is read as an offset without an anchor.
 */
import { z } from 'zod';
import type { SavedOffset } from '../clock.js';
import type { KvStore } from './kv-store.js';

const KEY = 'clock_offset';
const LEGACY_KEY = 'clock_offset_ms';

const Saved = z.object({
  offsetMs: z.number(),
  localMs: z.number().nullable(),
  bootId: z.string().max(64).nullable(),
  uptimeMs: z.number().nullable(),
});

export function loadClockOffset(kv: KvStore): SavedOffset | null {
  const text = kv.get(KEY);
  if (text === undefined) {
    const legacy = kv.getNumber(LEGACY_KEY, Number.NaN);
    return Number.isNaN(legacy) ? null : { offsetMs: legacy, localMs: null, bootId: null, uptimeMs: null };
  }
  try {
    const parsed = Saved.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null; // unreadable: as if never measured
  }
}

/** Call inside a transaction. */
export function saveClockOffset(kv: KvStore, saved: SavedOffset): void {
  kv.set(KEY, JSON.stringify(saved));
}
