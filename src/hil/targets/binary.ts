/** The compiled single-file edge binary (`npm run build:binary`), exactly what is shipped to devices. */
import { accessSync, constants } from 'node:fs';
import type { Launcher } from './local-process.js';

export function binaryLauncher(path: string): Launcher {
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(
      `the edge binary ${path} does not exist or is not executable; build it with 'npm run build:binary' or pass --binary PATH`,
    );
  }
  return { command: path, prefixArgs: [] };
}
