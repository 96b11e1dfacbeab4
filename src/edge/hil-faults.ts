/**
 * Test-only faults for the HIL OTA scenarios (a release that crashes at start, or never gets online), fixed when
 * the binary is built (`npm run build:binary -- --hil-faults NAME`). An ordinary build defines `__CST_HIL_FAULT__`
 * as undefined, so the minifier drops this path and nothing at run time (no flag, no variable) can switch it on.
 */
declare const __CST_HIL_FAULT__: string | undefined;

export const HIL_FAULTS = ['crash-at-start', 'never-online'] as const;
export type HilFault = (typeof HIL_FAULTS)[number];

export const HIL_FAULT: HilFault | undefined =
  typeof __CST_HIL_FAULT__ === 'string' ? (__CST_HIL_FAULT__ as HilFault) : undefined;

/** `run` of a fault build: exits 1 at once, or stays up without ever connecting until it is stopped. */
export function runWithHilFault(fault: HilFault, stderr: (text: string) => void): Promise<number> {
  stderr(`consystence-edge run: HIL fault build (${fault})\n`);
  if (fault === 'crash-at-start') return Promise.resolve(1);
  return new Promise<number>((resolve) => {
    const alive = setInterval(() => {}, 60_000);
    process.once('SIGTERM', () => {
      clearInterval(alive);
      resolve(0);
    });
  });
}
