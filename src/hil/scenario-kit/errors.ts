/** How a scenario says "skip" or "the device did the wrong thing", as distinct from the rig itself breaking. */
export class ScenarioSkipped extends Error {
  override readonly name = 'ScenarioSkipped';
}

export class CheckFailed extends Error {
  override readonly name = 'CheckFailed';
}

/**
 * The rig broke, not the device: a template whose command cannot run (exit 126/127), a hook that failed. Always
 * an `<error>` in the reports, never a `<failure>`, so a rig fault is never blamed on the device.
 */
export class RigFault extends Error {
  override readonly name = 'RigFault';
}

/** The run was stopped (Ctrl-C, SIGTERM) while this scenario ran: an `<error>`, saying by what. */
export class Interrupted extends Error {
  override readonly name = 'Interrupted';
}

/** Exit codes a POSIX shell uses when it cannot run the command at all (126 not executable, 127 not found). */
export function shellCouldNotRun(code: number | null): boolean {
  return code === 126 || code === 127;
}

/** Fails the scenario with `message` unless `condition` holds. */
export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new CheckFailed(message);
}

export function checkEqual<T>(actual: T, expected: T, what: string): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected))
    throw new CheckFailed(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}
