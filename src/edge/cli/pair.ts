/**
 * `pair`: registers this device with the cloud from a pairing URI (or separate flags), showing each step as it
 * happens. Safe to repeat: an unfinished pairing is replayed with the same Idempotency-Key.
 */
import { z } from 'zod';
import { EdgeError } from '../errors.js';
import { acquireRunLock, serviceRunning } from '../stores/run-lock.js';
import { pinnedFetch, saveCloudCa } from '../cloud-client/http-pinned.js';
import { cloudCaFrom, pairingInputFrom } from '../pairing/inputs.js';
import { humanSteps, jsonSteps } from '../pairing/steps.js';
import { commonSettings, loggerFor, openRuntime, parseFlags, type Subcommand } from './common.js';

const PairFlags = z.object({
  maxAttempts: z.coerce.number().int().min(1).max(50).default(6),
});

export const pair: Subcommand = {
  describe: 'pair this device with its site (from the pairing URI shown in the Consystence portal)',
  usage: `consystence-edge pair --uri 'consystence-edge://pair?cloud=…&org=…&site=…&code=…'   (--uri - reads it from stdin)
consystence-edge pair --cloud URL --org ORG_ID --site SITE_ID --code CODE
  [--edge-id ID] [--licence-key CST-EDGE-XXXX-XXXX-XXXX] [--cloud-ca FILE] [--force] [--no-connect] [--max-attempts N] [--json]
  --cloud-ca FILE  trust only this CA (PEM) for the cloud, now and for later token refreshes (a private cloud)`,
  async run(io) {
    const values = parseFlags(io.argv, {
      uri: { type: 'string' },
      cloud: { type: 'string' },
      org: { type: 'string' },
      site: { type: 'string' },
      code: { type: 'string' },
      'edge-id': { type: 'string' },
      'licence-key': { type: 'string' },
      force: { type: 'boolean' },
      'no-connect': { type: 'boolean' },
      'max-attempts': { type: 'string' },
      'cloud-ca': { type: 'string' },
    });
    const settings = commonSettings(values, io.env);
    const extra = PairFlags.safeParse({ maxAttempts: values['max-attempts'] });
    if (!extra.success) throw new EdgeError('USAGE', '--max-attempts must be a whole number from 1 to 50');
    const uri = values.uri === '-' ? (await io.readStdin()).trim() : values.uri;
    const input = pairingInputFrom({
      uri,
      cloud: values.cloud,
      org: values.org,
      site: values.site,
      code: values.code,
      edgeId: values['edge-id'],
      licenceKey: values['licence-key'],
    });
    const cloudCa = values['cloud-ca'] !== undefined ? cloudCaFrom(values['cloud-ca'], input.cloudUrl) : undefined;
    // Replacing the registration under a running service would leave it online as the old device.
    const lock = values.force === true ? await acquireRunLock(settings.stateDir, serviceRunning('pair --force')) : null;
    const runtime = await openRuntime(settings, loggerFor(settings, io, 'pair'), io, {
      pairingRetry: { maxAttempts: extra.data.maxAttempts },
      ...(cloudCa ? { fetch: pinnedFetch(cloudCa) } : {}),
      upgradeLayout: lock !== null,
    }).catch((error: unknown) => {
      lock?.release();
      throw error;
    });
    try {
      const registration = await runtime.pair(input, {
        steps: settings.json ? jsonSteps(io.stdout) : humanSteps(io.stdout),
        force: values.force === true,
        checkConnect: values['no-connect'] !== true,
      });
      // What this pairing trusted is what token refreshes trust (none: the platform's store, for a public cloud).
      saveCloudCa(runtime.state.db, cloudCa);
      io.stdout(
        settings.json
          ? `${JSON.stringify({ paired: true, edgeId: registration.edgeId, edgeUuid: registration.edgeUuid, siteId: registration.siteId, broker: registration.config.siteServer.mqtt.url })}\n`
          : `paired: ${registration.edgeId} at site ${registration.siteId}. Start the service: systemctl enable --now consystence-edge\n`,
      );
      return 0;
    } finally {
      runtime.close();
      lock?.release();
    }
  },
};
