/**
 * The job state machine of issue 13, as data: which state may follow which. The store refuses any other step,
 * so a bug (or a replayed message) can never move a finished job or skip the verification.
 *
 * `offered → downloaded` is the offline install (`update install --file`: the artifact is already on disk).
 * `installing → succeeded` is an installer that needs no restart (models). Cancel and supersede (`failed` with
 * `SUPERSEDED`) are possible only before `installing`: from there on the device finishes what it started.
 */
import { FINAL_UPDATE_STATES, type UpdateJobState } from '../../protocol/updates.js';

const NEXT: Record<UpdateJobState, readonly UpdateJobState[]> = {
  offered: ['downloading', 'downloaded', 'failed', 'cancelled'],
  downloading: ['downloading', 'downloaded', 'failed', 'cancelled'],
  downloaded: ['verified', 'failed', 'cancelled'],
  verified: ['installing', 'failed', 'cancelled'],
  installing: ['installing', 'restarting', 'succeeded', 'failed', 'rolled-back'],
  restarting: ['trial', 'failed', 'rolled-back'],
  trial: ['succeeded', 'failed', 'rolled-back'],
  succeeded: [],
  failed: [],
  'rolled-back': [],
  cancelled: [],
};

export const canMove = (from: UpdateJobState, to: UpdateJobState): boolean => NEXT[from].includes(to);
export const isFinal = (state: UpdateJobState): boolean => FINAL_UPDATE_STATES.includes(state);
/** A job in one of these states can still be cancelled or replaced by a newer offer. */
export const isBeforeInstall = (state: UpdateJobState): boolean =>
  state === 'offered' || state === 'downloading' || state === 'downloaded' || state === 'verified';
