/** The edge from source under Bun (`bun src/edge/main.ts`): the runtime the device binary is built from. */
import type { Launcher } from './local-process.js';
import { BUN_BIN, EDGE_ENTRY } from './paths.js';

export function bunLauncher(): Launcher {
  return { command: BUN_BIN, prefixArgs: [EDGE_ENTRY] };
}
