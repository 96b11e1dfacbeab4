/**
 * P/cmd through a registry of handlers. Every outcome is a CommandResult stored under the command id before it
 * is published, so a repeated id replays the stored answer and never runs the command twice. Bad input becomes
 * BAD_COMMAND (with the id when one can be read), never a throw.
 */
import { Command, type CommandResult, MAX_PAYLOAD_BYTES } from '../../protocol/index.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../../common/log/log.js';
import type { CommandStore } from '../stores/command-store.js';

export interface CommandContext {
  id: string;
  args: Record<string, unknown>;
}

export interface CommandHandler {
  /**
   * 'inline': run, store the result, publish it. 'after-restart': store "executing" first; the result is
   * settled and published after the next boot (the handler ends this process).
   */
  mode?: 'inline' | 'after-restart';
  run(context: CommandContext): Promise<unknown>;
}

export type CommandOutcome = { publish: CommandResult } | { publish: null };

export class CommandRegistry {
  private readonly handlers = new Map<string, CommandHandler>();
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly store: CommandStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  register(name: string, handler: CommandHandler): this {
    this.handlers.set(name, handler);
    return this;
  }

  get names(): string[] {
    return [...this.handlers.keys()];
  }

  /**
   * Never throws: a database error (locked, full, read-only) becomes a FAILED result, so the caller always has an
   * answer to publish and the process keeps running.
   */
  async handle(payload: Uint8Array | string): Promise<CommandOutcome> {
    const json = parseJson(payload);
    try {
      return await this.dispatch(json);
    } catch (error) {
      const id = readableId(json) ?? '';
      this.logger.error('command_not_recorded', { id, error });
      return {
        publish: failure(
          id,
          'FAILED',
          `the edge could not record this command: ${(error as Error).message}`.slice(0, 500),
        ),
      };
    }
  }

  private async dispatch(json: unknown): Promise<CommandOutcome> {
    const at = () => new Date(this.clock.now()).toISOString();
    const parsed = Command.safeParse(json);
    if (!parsed.success) {
      const id = readableId(json);
      const reason =
        json === undefined
          ? 'the command is not valid JSON (or too large)'
          : `the command is malformed: ${parsed.error.issues
              .slice(0, 3)
              .map((i) => `${i.path.join('.') || '(payload)'} ${i.message}`)
              .join('; ')}`;
      this.logger.warn('command_bad', { id, reason });
      return { publish: failure(id ?? '', 'BAD_COMMAND', reason) };
    }
    const command = parsed.data;
    const stored = this.store.get(command.id);
    if (stored?.result) return { publish: stored.result };
    if (stored || this.inFlight.has(command.id)) return { publish: null }; // already running: its result will be published
    if (command.expiresAt && Date.parse(command.expiresAt) < this.clock.now()) {
      return {
        publish: this.finish(
          command.id,
          command.name,
          failure(command.id, 'EXPIRED', `the command expired at ${command.expiresAt}`),
          at(),
        ),
      };
    }
    const handler = this.handlers.get(command.name);
    if (!handler) {
      return {
        publish: this.finish(
          command.id,
          command.name,
          failure(
            command.id,
            'UNKNOWN_COMMAND',
            `unknown command '${command.name}'; this edge knows ${this.names.join(', ')}`,
          ),
          at(),
        ),
      };
    }
    if (handler.mode === 'after-restart') {
      this.store.markExecuting(command.id, command.name, at());
      await handler.run({ id: command.id, args: command.args ?? {} });
      return { publish: null };
    }
    this.inFlight.add(command.id);
    try {
      const result = await handler.run({ id: command.id, args: command.args ?? {} });
      return {
        publish: this.finish(
          command.id,
          command.name,
          { id: command.id, ok: true, ...(result !== undefined ? { result } : {}) },
          at(),
        ),
      };
    } catch (error) {
      this.logger.warn('command_failed', { id: command.id, name: command.name, error });
      return {
        publish: this.finish(
          command.id,
          command.name,
          failure(command.id, 'FAILED', (error as Error).message.slice(0, 500)),
          at(),
        ),
      };
    } finally {
      this.inFlight.delete(command.id);
    }
  }

  /**
   * After a boot: commands left "executing" are settled. A restart command succeeded by the fact that we are
   * running again; anything else was interrupted by a crash or power cut.
   */
  settleAfterBoot(bootId: string): CommandResult[] {
    const at = new Date(this.clock.now()).toISOString();
    return this.store.executing().map(({ id, name }) => {
      const handler = this.handlers.get(name);
      const result: CommandResult =
        handler?.mode === 'after-restart'
          ? { id, ok: true, result: { restarted: true, bootId } }
          : failure(id, 'FAILED', 'interrupted by a restart of the edge');
      return this.finish(id, name, result, at);
    });
  }

  private finish(id: string, name: string, result: CommandResult, at: string): CommandResult {
    this.store.saveResult(id, name, result, at);
    return result;
  }
}

function failure(id: string, code: string, message: string): CommandResult {
  return { id, ok: false, error: { code, message } };
}

function parseJson(payload: Uint8Array | string): unknown {
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength;
  if (size > MAX_PAYLOAD_BYTES) return undefined;
  try {
    return JSON.parse(typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8'));
  } catch {
    return undefined;
  }
}

function readableId(json: unknown): string | null {
  const id = (json as { id?: unknown } | null)?.id;
  return typeof id === 'string' && id.length > 0 && id.length <= 128 ? id : null;
}
