/**
 * Pairing progress as it happens, for a technician at a laptop (human lines) or a script (`--json`, one JSON
 * object per line). Details are plain facts (ids, skew, retry delays); never a code or a token.
 */
import { printable } from '../../common/text/safe-text.js';

export type StepName =
  | 'clock'
  | 'identify'
  | 'reach'
  | 'reach-site'
  | 'register'
  | 'verify'
  | 'verify-site'
  | 'save'
  | 'connect';
/** `progress`: a step that takes long says what it is doing or waiting for. */
export type StepStatus = 'start' | 'progress' | 'ok' | 'retry' | 'warn' | 'fail';

export const STEP_TITLES: Record<StepName, string> = {
  clock: 'checking the clock',
  identify: "checking the site server's identity",
  reach: 'reaching the cloud',
  'reach-site': 'reaching the site server',
  register: 'registering this device',
  verify: "verifying the cloud's answer",
  'verify-site': "verifying the site server's answer",
  save: 'saving the registration',
  connect: 'connecting to the site server',
};

export interface StepEvent {
  step: StepName;
  status: StepStatus;
  message?: string;
  [detail: string]: unknown;
}
export type StepReporter = (event: StepEvent) => void;

export const silentSteps: StepReporter = () => {};

export function humanSteps(write: (line: string) => void): StepReporter {
  const mark: Record<StepStatus, string> = {
    start: '…',
    progress: '…',
    ok: 'ok',
    retry: 'retrying',
    warn: 'warning',
    fail: 'FAILED',
  };
  return (event) => {
    if (event.status === 'start') return write(`→ ${STEP_TITLES[event.step]}…\n`);
    // Messages may quote the cloud or the site server: printable() keeps their escapes off the terminal.
    write(`  ${mark[event.status]}${event.message ? `: ${printable(event.message, 1000)}` : ''}\n`);
  };
}

export function jsonSteps(write: (line: string) => void): StepReporter {
  return (event) =>
    write(`${JSON.stringify({ ts: new Date().toISOString(), ...event, title: STEP_TITLES[event.step] })}\n`);
}

/** How long a call may hang before the technician is told it is still waiting (a frozen peer takes 15 s to time out). */
const WAITING_NOTICE_MS = 3_000;

/** Runs `fn`, saying once with `waiting` that it still waits when it has not finished after a few seconds. */
export async function withWaitingNotice<T>(
  steps: StepReporter,
  step: StepName,
  waiting: string,
  fn: () => Promise<T>,
): Promise<T> {
  const timer = setTimeout(() => steps({ step, status: 'progress', message: waiting }), WAITING_NOTICE_MS);
  try {
    return await fn();
  } finally {
    clearTimeout(timer);
  }
}
