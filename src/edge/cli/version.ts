/** `version`: the embedded version and build time. Needs no state. */
import { BUILD_TIME, VERSION } from '../version.js';
import { parseFlags, type Subcommand } from './common.js';

export const version: Subcommand = {
  describe: 'print the version and build time',
  usage: 'consystence-edge version [--json]',
  async run(io) {
    const values = parseFlags(io.argv, {});
    io.stdout(
      values.json
        ? `${JSON.stringify({ version: VERSION, buildTime: BUILD_TIME, runtime: typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined' ? 'bun' : 'node', arch: process.arch })}\n`
        : `consystence-edge ${VERSION} (built ${BUILD_TIME})\n`,
    );
    return 0;
  },
};
