/**
 * Booting the device with a clock far in the past, without touching the rig's own clock: libfaketime's
 * `faketime` wrapper shifts only the wrapped process (and its children). The edge has no clock-override flag
 * (by design: production code should not carry test switches), so this is the black-box way to do it.
 */
import { existsSync } from 'node:fs';

export const FAKETIME_BIN = process.env.FAKETIME_BIN ?? '/usr/bin/faketime';

export function faketimeUnavailable(): string | undefined {
  return existsSync(FAKETIME_BIN)
    ? undefined
    : `libfaketime is not installed (${FAKETIME_BIN}; apt-get install -y faketime) and the edge has no clock override`;
}

/** `faketime -f '@2001-01-01 00:00:00' cmd args`: the clock starts there and then runs at normal speed. */
export function faketimeCommand(at: string, command: string, args: string[]): { command: string; args: string[] } {
  return { command: FAKETIME_BIN, args: ['-f', `@${at}`, command, ...args] };
}
