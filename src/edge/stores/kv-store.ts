/** Small persisted facts (clock offset, the cloud CA given at pairing). */
import type { Db } from '../../storage/index.js';

export class KvStore {
  constructor(private readonly db: Db) {}

  get(key: string): string | undefined {
    return this.db.prepare<{ value: string }>('SELECT value FROM kv WHERE key = ?').get(key)?.value;
  }

  getNumber(key: string, fallback: number): number {
    const text = this.get(key);
    const value = text !== undefined ? Number(text) : NaN;
    return Number.isFinite(value) ? value : fallback;
  }

  set(key: string, value: string | number): void {
    this.db
      .prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value')
      .run(key, String(value));
  }

  delete(key: string): void {
    this.db.prepare('DELETE FROM kv WHERE key = ?').run(key);
  }
}
