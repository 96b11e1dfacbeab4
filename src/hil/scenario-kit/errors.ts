/** How a scenario says "skip" or "the device did the wrong thing", as distinct from the rig itself breaking. */
export class ScenarioSkipped extends Error {
  override readonly name = 'ScenarioSkipped';
}

export class CheckFailed extends Error {
  override readonly name = 'CheckFailed';
}

/** Fails the scenario with `message` unless `condition` holds. */
export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new CheckFailed(message);
}

export function checkEqual<T>(actual: T, expected: T, what: string): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected))
    throw new CheckFailed(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}
