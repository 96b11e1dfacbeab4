/** The edge from source under Node, through tsx (what `npx consystence-edge` runs). */
import type { Launcher } from './local-process.js';
import { EDGE_ENTRY } from './paths.js';

export function nodeLauncher(): Launcher {
  return { command: process.execPath, prefixArgs: ['--import', 'tsx', EDGE_ENTRY] };
}
