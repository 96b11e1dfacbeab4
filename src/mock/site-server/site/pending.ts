/**
 * Correlates what the server sent with what came back: a command with its `cmd/result` (by id) and a config
 * push with its `config/reported` (by edge and version). Every wait has a timeout and removes itself, so an
 * edge that never answers leaves nothing behind.
 */
import type { CommandResult, ConfigReported } from '../../../protocol/index.js';

interface Waiter<T> {
  resolve(value: T | undefined): void;
  timer: NodeJS.Timeout;
}

export class PendingReplies {
  private readonly commands = new Map<string, Waiter<CommandResult>>();
  private readonly configs = new Map<string, Array<Waiter<ConfigReported> & { version: number }>>();

  /** Resolves with the result, or undefined after `timeoutMs`. */
  waitForCommand(id: string, timeoutMs: number): Promise<CommandResult | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.commands.delete(id);
        resolve(undefined);
      }, timeoutMs);
      this.commands.set(id, { resolve, timer });
    });
  }

  /** Returns false when nobody was waiting (a late or replayed result). */
  commandResult(result: CommandResult): boolean {
    const waiter = this.commands.get(result.id);
    if (!waiter) return false;
    this.commands.delete(result.id);
    clearTimeout(waiter.timer);
    waiter.resolve(result);
    return true;
  }

  /** Resolves with the first report for `version` or later (a newer push supersedes), or undefined on timeout. */
  waitForConfig(edgeId: string, version: number, timeoutMs: number): Promise<ConfigReported | undefined> {
    return new Promise((resolve) => {
      const list = this.configs.get(edgeId) ?? [];
      const waiter = {
        version,
        resolve,
        timer: setTimeout(() => {
          const current = this.configs.get(edgeId)?.filter((w) => w !== waiter) ?? [];
          if (current.length) this.configs.set(edgeId, current);
          else this.configs.delete(edgeId);
          resolve(undefined);
        }, timeoutMs),
      };
      list.push(waiter);
      this.configs.set(edgeId, list);
    });
  }

  configReported(edgeId: string, report: ConfigReported): void {
    const list = this.configs.get(edgeId);
    if (!list) return;
    const done = list.filter((w) => report.version >= w.version);
    const rest = list.filter((w) => report.version < w.version);
    if (rest.length) this.configs.set(edgeId, rest);
    else this.configs.delete(edgeId);
    for (const waiter of done) {
      clearTimeout(waiter.timer);
      waiter.resolve(report);
    }
  }

  /** Ends every wait (shutdown): callers see a timeout-like undefined at once. */
  cancelAll(): void {
    for (const waiter of this.commands.values()) {
      clearTimeout(waiter.timer);
      waiter.resolve(undefined);
    }
    this.commands.clear();
    for (const list of this.configs.values()) {
      for (const waiter of list) {
        clearTimeout(waiter.timer);
        waiter.resolve(undefined);
      }
    }
    this.configs.clear();
  }
}
