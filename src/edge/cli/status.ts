/** `status`: what this device is and how it is doing, from the database (never a secret). */
import { formatStatus } from '../status/report.js';
import { commonSettings, loggerFor, openRuntime, pairingUriFile, parseFlags, type Subcommand } from './common.js';

export const status: Subcommand = {
  describe: 'show the pairing and connection state (never a secret)',
  usage: 'consystence-edge status [--pairing-uri-file FILE] [--json]',
  async run(io) {
    const values = parseFlags(io.argv, { 'pairing-uri-file': { type: 'string' } });
    const settings = commonSettings(values, io.env);
    // Read-only: looking at a device never creates, repairs, renames or migrates its files.
    const runtime = await openRuntime(settings, loggerFor(settings, io, 'status'), io, { readOnly: true });
    try {
      const report = runtime.status({ pairingUriFile: pairingUriFile(values['pairing-uri-file'], io.env) });
      io.stdout(settings.json ? `${JSON.stringify(report)}\n` : formatStatus(report, runtime.clock.now()));
      return 0;
    } finally {
      runtime.close();
    }
  },
};
