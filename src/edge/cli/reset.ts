/**
 * `reset`: forgets the registration (the device must be paired again); `--keys` also replaces the device key.
 * Destructive, so it asks on a terminal and refuses without --yes when nobody can answer.
 */
import { createInterface } from 'node:readline/promises';
import { EdgeError } from '../errors.js';
import { acquireRunLock, serviceRunning } from '../stores/run-lock.js';
import { commonSettings, loggerFor, openRuntime, parseFlags, type Subcommand } from './common.js';

export const reset: Subcommand = {
  describe: 'forget the registration (and with --keys the device key); the device must be paired again',
  usage: 'consystence-edge reset [--keys] [--yes]',
  async run(io) {
    const values = parseFlags(io.argv, { keys: { type: 'boolean' }, yes: { type: 'boolean', short: 'y' } });
    const settings = commonSettings(values, io.env);
    const keys = values.keys === true;
    if (values.yes !== true) {
      if (!io.stdinIsTty) throw new EdgeError('USAGE', 'reset needs --yes when not run from a terminal');
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      const answer = await rl.question(
        `This forgets the registration${keys ? ' and the device key' : ''}; the device must be paired again. Type "yes" to continue: `,
      );
      rl.close();
      if (answer.trim().toLowerCase() !== 'yes') {
        io.stdout('nothing changed\n');
        return 0;
      }
    }
    const lock = await acquireRunLock(settings.stateDir, serviceRunning('reset'));
    const runtime = await openRuntime(settings, loggerFor(settings, io, 'reset'), io, { upgradeLayout: true }).catch(
      (error: unknown) => {
        lock.release();
        throw error;
      },
    );
    try {
      const { notScrubbed } = await runtime.reset({ keys });
      if (notScrubbed) {
        io.stderr(
          `warning: the old credentials are deleted but their bytes may remain on disk (${notScrubbed}); stop the service and run reset again\n`,
        );
      }
      io.stdout(
        settings.json
          ? `${JSON.stringify({ reset: true, keys })}\n`
          : `reset done${keys ? ' (new device key)' : ''}; pair again with: consystence-edge pair --uri '…'\n`,
      );
      return 0;
    } finally {
      runtime.close();
      lock.release();
    }
  },
};
