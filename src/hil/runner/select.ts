/** `--only` and `--repeat` → the ordered list of (scenario, iteration) to run. Unknown ids are an error. */
import type { Scenario } from '../scenario-kit/types.js';

export class SelectionError extends Error {
  override readonly name = 'SelectionError';
}

export interface Planned {
  scenario: Scenario;
  iteration: number;
}

export function selectScenarios(all: readonly Scenario[], only: string[] | undefined, repeat: number): Planned[] {
  let chosen: Scenario[] = [...all];
  if (only?.length) {
    const known = new Map(all.map((s) => [s.id, s]));
    const unknown = only.filter((id) => !known.has(id));
    if (unknown.length)
      throw new SelectionError(
        `unknown scenario${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; known: ${all.map((s) => s.id).join(', ')}`,
      );
    // The suite's order, not the flag's: cheap scenarios first keeps a broken device's failures quick.
    const wanted = new Set(only);
    chosen = all.filter((s) => wanted.has(s.id));
  }
  const planned: Planned[] = [];
  // Iterations outermost: a flaky scenario shows up as one failing pass among others, not as a block.
  for (let iteration = 1; iteration <= repeat; iteration++)
    for (const scenario of chosen) planned.push({ scenario, iteration });
  return planned;
}

export function describeScenarios(all: readonly Scenario[]): string {
  const width = Math.max(...all.map((s) => s.id.length));
  return all
    .map((s) => {
      const needs = [
        ...(s.requires?.capabilities ?? []),
        ...(s.requires?.ownCloud ? ['own cloud'] : []),
        ...(s.requires?.ownSiteServer ? ['own site server'] : []),
        ...(s.requires?.netns ? ['netns (local, root)'] : []),
      ];
      return `${s.id.padEnd(width)}  ${s.title} (≤ ${s.timeoutS} s${needs.length ? `; needs ${needs.join(', ')}` : ''})`;
    })
    .join('\n');
}
