/** Small persisted counters and facts (clock offset, boot count). */
import type { Db } from '../../storage/index.js';

export class KvStore {
  constructor(private readonly db: Db) {}

  getNumber(key: string, fallback: number): number {
    const row = this.db.prepare<{ value: string }>('SELECT value FROM kv WHERE key = ?').get(key);
    const value = row ? Number(row.value) : NaN;
    return Number.isFinite(value) ? value : fallback;
  }

  set(key: string, value: string | number): void {
    this.db.prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, String(value));
  }

  /** Increments in one transaction and returns the new value. */
  increment(key: string): number {
    return this.db.transaction(() => {
      const next = this.getNumber(key, 0) + 1;
      this.set(key, next);
      return next;
    });
  }
}
