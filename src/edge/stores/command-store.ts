/**
 * Command results keyed by command id: stored before they are published, so a repeated id (a QoS 1 redelivery,
 * a server retry) replays the same answer instead of running the command twice.
 */
import type { Db } from '../../storage/index.js';
import { CommandResult } from '../../protocol/index.js';

export interface StoredCommand {
  id: string;
  name: string;
  state: 'executing' | 'done';
  result: CommandResult | null;
}

interface Row {
  id: string;
  name: string;
  state: 'executing' | 'done';
  result: string | null;
}

/** Results older than this are forgotten (a server retrying after a week gets a fresh run). */
const KEEP_DAYS = 7;

export class CommandStore {
  constructor(private readonly db: Db) {}

  get(id: string): StoredCommand | null {
    const row = this.db.prepare<Row>('SELECT id, name, state, result FROM command_results WHERE id = ?').get(id);
    if (!row) return null;
    const parsed = row.result ? CommandResult.safeParse(JSON.parse(row.result)) : null;
    return { id: row.id, name: row.name, state: row.state, result: parsed?.success ? parsed.data : null };
  }

  markExecuting(id: string, name: string, at: string): void {
    this.db
      .prepare(
        "INSERT INTO command_results (id, name, state, received_at) VALUES (?, ?, 'executing', ?) ON CONFLICT(id) DO NOTHING",
      )
      .run(id, name, at);
  }

  saveResult(id: string, name: string, result: CommandResult, at: string): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          "INSERT INTO command_results (id, name, state, result, received_at, finished_at) VALUES (?, ?, 'done', ?, ?, ?) ON CONFLICT(id) DO UPDATE SET state = 'done', result = excluded.result, finished_at = excluded.finished_at",
        )
        .run(id, name, JSON.stringify(result), at, at);
      this.db
        .prepare('DELETE FROM command_results WHERE finished_at IS NOT NULL AND finished_at < ?')
        .run(new Date(Date.parse(at) - KEEP_DAYS * 86_400_000).toISOString());
    });
  }

  /** Commands left 'executing' by the previous process (a restart command, or a crash mid-command). */
  executing(): Array<{ id: string; name: string }> {
    return this.db
      .prepare<{ id: string; name: string }>("SELECT id, name FROM command_results WHERE state = 'executing'")
      .all();
  }

  clear(): void {
    this.db.exec('DELETE FROM command_results');
  }
}
