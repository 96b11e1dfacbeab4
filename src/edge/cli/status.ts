/** `status`: what this device is and how it is doing, from the database (never a secret). */
import { formatStatus } from '../status/report.js';
import { commonSettings, loggerFor, openRuntime, parseFlags, type Subcommand } from './common.js';

export const status: Subcommand = {
  describe: 'show the pairing and connection state (never a secret)',
  usage: 'consystence-edge status [--json]',
  async run(io) {
    const values = parseFlags(io.argv, {});
    const settings = commonSettings(values, io.env);
    const runtime = await openRuntime(settings, loggerFor(settings, io, 'status'), io);
    try {
      const report = runtime.status();
      io.stdout(settings.json ? `${JSON.stringify(report)}\n` : formatStatus(report));
      return 0;
    } finally {
      runtime.close();
    }
  },
};
