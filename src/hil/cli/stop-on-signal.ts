/**
 * Ctrl-C (SIGINT) and SIGTERM for a `consystence-hil` command: the first one aborts `signal`, so the command
 * stops what runs, cleans up and writes its reports; a second one exits at once (the operator has given up
 * waiting for the cleanup). The handlers belong to the call and are removed by `dispose`.
 */
import { constants } from 'node:os';

export interface StopOnSignal {
  signal: AbortSignal;
  /** The conventional exit code for a command stopped by that signal: 128 + its number (SIGINT 130, SIGTERM 143). */
  exitCode: () => number | undefined;
  dispose: () => void;
}

export function stopOnSignal(onFirst: (signal: NodeJS.Signals) => void): StopOnSignal {
  const abort = new AbortController();
  let stoppedBy: NodeJS.Signals | undefined;
  const exitCodeFor = (signal: NodeJS.Signals) => 128 + constants.signals[signal];
  const onSignal = (signal: NodeJS.Signals) => {
    if (stoppedBy) process.exit(exitCodeFor(signal));
    stoppedBy = signal;
    onFirst(signal);
    abort.abort(new Error(`stopped by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: abort.signal,
    exitCode: () => (stoppedBy ? exitCodeFor(stoppedBy) : undefined),
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
