/**
 * `consystence-hil` exit codes, for CI and rig scripts. A `run` stopped by a signal exits 128 + its number
 * (130 SIGINT, 143 SIGTERM): see stop-on-signal.ts.
 */
export const HilExit = {
  /** Every scenario passed or was skipped with a reason. */
  OK: 0,
  /** At least one scenario failed or errored (or fleet mode could not finish). */
  FAILED: 1,
  /** Bad flags or an unknown scenario id. */
  USAGE: 2,
  /** The device under test cannot be started here (binary or qemu missing). */
  SETUP: 3,
} as const;
