/** `doctor`: checks clock, DNS and TCP reach of cloud and site server, token and database; each with its fix. */
import { ExitCodes } from '../errors.js';
import { formatDoctor } from '../status/doctor.js';
import { commonSettings, loggerFor, openRuntime, parseFlags, type Subcommand } from './common.js';

export const doctor: Subcommand = {
  describe: 'check clock, network reach, token and database; print the fix for each failure',
  usage: 'consystence-edge doctor [--json]',
  async run(io) {
    const values = parseFlags(io.argv, {});
    const settings = commonSettings(values, io.env);
    const runtime = await openRuntime(settings, loggerFor(settings, io, 'doctor'), io);
    try {
      const checks = await runtime.doctor();
      const ok = checks.every((c) => c.ok);
      io.stdout(settings.json ? `${JSON.stringify({ ok, checks })}\n` : formatDoctor(checks));
      return ok ? ExitCodes.OK : ExitCodes.CHECK_FAILED;
    } finally {
      runtime.close();
    }
  },
};
