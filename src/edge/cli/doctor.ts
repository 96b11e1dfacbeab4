/** `doctor`: service, database, disk, registration, clock, cloud, site-server login and token, each with its fix. */
import { ExitCodes } from '../errors.js';
import { registrationFilePath, registrationFileRows } from '../site-server/registration-file.js';
import { formatDoctor, summarise } from '../status/doctor.js';
import { commonSettings, loggerFor, openRuntime, parseFlags, type Subcommand } from './common.js';

export const doctor: Subcommand = {
  describe:
    'check what keeps this device working (service, disk, clock, cloud, site-server login, token) and how to fix it',
  usage: 'consystence-edge doctor [--json]   exit 8 when a check FAILs (WARN and SKIP do not)',
  async run(io) {
    const values = parseFlags(io.argv, {});
    const settings = commonSettings(values, io.env);
    // Read-only: looking at a device never creates, repairs, renames or migrates its files.
    const runtime = await openRuntime(settings, loggerFor(settings, io, 'doctor'), io, { readOnly: true });
    try {
      const checks = [...(await runtime.doctor()), ...registrationFileRows(registrationFilePath(undefined, io.env))];
      const summary = summarise(checks);
      const ok = summary.fail === 0;
      io.stdout(settings.json ? `${JSON.stringify({ ok, summary, checks })}\n` : formatDoctor(checks));
      return ok ? ExitCodes.OK : ExitCodes.CHECK_FAILED;
    } finally {
      runtime.close();
    }
  },
};
