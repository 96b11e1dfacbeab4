/** `version`: the embedded version, build time and which release keys the binary trusts. Needs no state. */
import { RELEASE_TRUST } from '../../protocol/built-in-release-keys.js';
import { BUILD_TIME, VERSION } from '../version.js';
import { parseFlags, type Subcommand } from './common.js';

/** A development build accepts releases signed with a key anyone can read: it must look different. */
const TRUST_LINE = {
  development: 'release keys: development (the committed key anyone can sign with: not for a site)',
  custom: 'release keys: custom (built with --release-keys)',
} as const;

export const version: Subcommand = {
  describe: 'print the version, build time and release keys',
  usage: 'consystence-edge version [--json]',
  async run(io) {
    const values = parseFlags(io.argv, {});
    io.stdout(
      values.json
        ? `${JSON.stringify({ version: VERSION, buildTime: BUILD_TIME, runtime: typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined' ? 'bun' : 'node', arch: process.arch, releaseKeys: RELEASE_TRUST })}\n`
        : `consystence-edge ${VERSION} (built ${BUILD_TIME})\n${TRUST_LINE[RELEASE_TRUST]}\n`,
    );
    return 0;
  },
};
