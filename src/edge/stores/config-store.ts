/** The running config and its version history. Apply/reject are each one transaction (see config/config-manager.ts). */
import { z } from 'zod';
import type { Db } from '../../storage/index.js';
import { BufferConfig, LogsConfig, UpdateConfig, type EdgeConfig } from '../../protocol/index.js';

/** What a config push can change at run time. Version 0 is the config delivered at pairing. */
export const RuntimeConfig = z.object({
  heartbeatSeconds: z.number().int().min(5).max(3600),
  buffer: BufferConfig,
  metricsSeconds: z.number().int().min(1).max(3600).optional(),
  /** Unset keys keep the defaults (info, 2 × 1 MiB) or the `--log-level` the service was started with. */
  logs: LogsConfig.partial().optional(),
  /** Unset keys keep the defaults (no download limit, a 120 s trial). */
  update: UpdateConfig.partial().optional(),
});
export type RuntimeConfig = z.infer<typeof RuntimeConfig>;

export interface VersionedConfig {
  version: number;
  config: RuntimeConfig;
}

/** Version 0: the runtime part of the config delivered at pairing. */
export function pairingConfig(config: EdgeConfig): VersionedConfig {
  return { version: 0, config: { heartbeatSeconds: config.heartbeatSeconds, buffer: config.buffer } };
}

export interface HistoryEntry {
  version: number;
  status: 'applied' | 'rejected';
  error: string | null;
  receivedAt: string;
}

export class ConfigStore {
  constructor(private readonly db: Db) {}

  current(): VersionedConfig | null {
    const row = this.db
      .prepare<{ version: number; config: string }>('SELECT version, config FROM runtime_config WHERE id = 1')
      .get();
    return row ? { version: Number(row.version), config: RuntimeConfig.parse(JSON.parse(row.config)) } : null;
  }

  /** Sets the running config (call inside a transaction together with `record`). */
  setCurrent(value: VersionedConfig, at: string): void {
    this.db
      .prepare(
        'INSERT INTO runtime_config (id, version, config, updated_at) VALUES (1, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET version = excluded.version, config = excluded.config, updated_at = excluded.updated_at',
      )
      .run(value.version, JSON.stringify(value.config), at);
  }

  record(version: number, status: 'applied' | 'rejected', config: unknown, error: string | null, at: string): void {
    this.db
      .prepare('INSERT INTO config_history (version, status, config, error, received_at) VALUES (?, ?, ?, ?, ?)')
      .run(version, status, config === undefined ? null : JSON.stringify(config), error, at);
    // Bounded history: a misbehaving server re-pushing forever must not grow the file without limit.
    this.db.prepare('DELETE FROM config_history WHERE seq <= (SELECT MAX(seq) FROM config_history) - 200').run();
  }

  history(limit = 20): HistoryEntry[] {
    return this.db
      .prepare<{ version: number; status: 'applied' | 'rejected'; error: string | null; received_at: string }>(
        'SELECT version, status, error, received_at FROM config_history ORDER BY seq DESC LIMIT ?',
      )
      .all(limit)
      .map((r) => ({ version: Number(r.version), status: r.status, error: r.error, receivedAt: r.received_at }));
  }

  clear(): void {
    this.db.exec('DELETE FROM runtime_config; DELETE FROM config_history;');
  }
}
