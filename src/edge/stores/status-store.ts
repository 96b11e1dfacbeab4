/**
 * The daemon's status snapshot, read by `status` in another process. The schema lists every field, so nothing
 * secret can slip in by spreading an object.
 */
import { z } from 'zod';
import type { Db } from '../../storage/index.js';

/** Where the device is in its life: pairing, then the session's connection state (shown by `status`). */
export const LifecycleState = z.enum(['unpaired', 'pairing', 'paired', 'connecting', 'online', 'offline', 'revoked']);
export type LifecycleState = z.infer<typeof LifecycleState>;

/** Which site server endpoint and CAs the device uses, and what else it holds (issue 17). */
export const SiteEndpoint = z.object({
  mqttUrl: z.string(),
  /** True while a new endpoint the cloud signed is being tried (not yet seen to accept this device). */
  trial: z.boolean(),
  /** SHA-256 (first 16 hex digits) of each CA trusted for the site server; empty: the system store. */
  caFingerprints: z.array(z.string()),
  candidateUrl: z.string().nullable(),
  fallbackUrl: z.string().nullable(),
});
export type SiteEndpoint = z.infer<typeof SiteEndpoint>;

export const StatusSnapshot = z.object({
  state: LifecycleState,
  pid: z.number().int(),
  bootId: z.string(),
  startedAt: z.string(),
  brokerUrl: z.string().nullable(),
  connectedSince: z.string().nullable(),
  /** While not connected: since when (the start of the outage, not of the current attempt). */
  offlineSince: z.string().nullable().default(null),
  /** While waiting to reconnect: when the next attempt is due. */
  nextAttemptAt: z.string().nullable().default(null),
  lastError: z.string().max(2000).nullable(),
  queue: z.object({ depth: z.number(), bytes: z.number(), oldestTs: z.string().nullable() }),
  configVersion: z.number().int().nullable(),
  siteEndpoint: SiteEndpoint.optional(),
});
export type StatusSnapshot = z.infer<typeof StatusSnapshot>;

export class StatusStore {
  constructor(private readonly db: Db) {}

  write(snapshot: StatusSnapshot, at: string): void {
    const clean = StatusSnapshot.parse(snapshot);
    this.db
      .prepare(
        'INSERT INTO status_snapshot (id, snapshot, updated_at) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET snapshot = excluded.snapshot, updated_at = excluded.updated_at',
      )
      .run(JSON.stringify(clean), at);
  }

  read(): { snapshot: StatusSnapshot; updatedAt: string } | null {
    const row = this.db
      .prepare<{ snapshot: string; updated_at: string }>(
        'SELECT snapshot, updated_at FROM status_snapshot WHERE id = 1',
      )
      .get();
    if (!row) return null;
    const parsed = StatusSnapshot.safeParse(JSON.parse(row.snapshot));
    return parsed.success ? { snapshot: parsed.data, updatedAt: row.updated_at } : null;
  }

  clear(): void {
    this.db.exec('DELETE FROM status_snapshot');
  }
}
