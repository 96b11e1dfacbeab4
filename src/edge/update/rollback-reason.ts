/**
 * The reason a job is given for a rollback the launcher made: recorded by the engine when the old version starts,
 * and shown the same way by `update status` and `status` while the record waits for that.
 */
import type { RollbackRecord } from './state-files.js';

export function rollbackReason(record: RollbackRecord): { code: string; message: string } {
  const { reason, from, to } = record;
  const why =
    reason === 'START_FAILED'
      ? 'did not start (3 attempts)'
      : reason === 'TRIAL_TIMEOUT'
        ? "did not commit by the launcher's deadline (twice its trial window and a margin): it never came online, or did not hold the connection for its window in all"
        : reason === 'MISSING_BINARY'
          ? 'had no runnable binary'
          : reason === 'INVALID_TRIAL'
            ? 'had an unreadable update/trial (damaged or planted; kept as update/trial.invalid)'
            : `failed (${reason})`;
  return { code: reason, message: `version ${from} ${why}; the launcher went back to ${to}` };
}
