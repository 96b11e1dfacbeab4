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
        ? 'did not come online and commit within its trial window'
        : reason === 'MISSING_BINARY'
          ? 'had no runnable binary'
          : reason === 'INVALID_TRIAL'
            ? 'had an unreadable update/trial (damaged or planted; kept as update/trial.invalid)'
            : `failed (${reason})`;
  return { code: reason, message: `version ${from} ${why}; the launcher went back to ${to}` };
}
