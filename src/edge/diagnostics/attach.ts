/**
 * Wires remote diagnostics into a running service: the `doctor` and `support-bundle` commands, the traffic feed
 * for `watch`, and log settings from config pushes. `start` never throws: a watch socket that cannot be made
 * costs the watch feature (logged), not the service.
 */
import type { EdgeRuntime } from '../runtime.js';
import type { EdgeSession } from '../session/session.js';
import { loadSiteRegistration } from '../site-server/site-registration-store.js';
import { registerDiagnosticsCommands } from './commands.js';
import type { RuntimeLog } from './runtime-log.js';
import { secretVariants } from './secrets.js';
import { collectSupportBundle } from './support-bundle.js';
import { trafficLine } from './traffic-summary.js';
import { WatchServer } from './watch-server.js';

export interface DiagnosticsOptions {
  stateDir: string;
  hardwareId: string | undefined;
  uriFile: string;
  log: RuntimeLog;
}

export function attachDiagnostics(
  session: EdgeSession,
  runtime: EdgeRuntime,
  options: DiagnosticsOptions,
): { start(): Promise<void>; close(): Promise<void> } {
  const watch = new WatchServer(options.stateDir, runtime.logger);
  // The key never changes while the service runs; the token is read per message (it is refreshed).
  const keyD = runtime.state.identity.get()?.privateJwk.d;
  const deviceSecrets = () => secretVariants([session.tokens.registration().edgeToken, keyD]);
  options.log.scrubSecrets(deviceSecrets);
  registerDiagnosticsCommands(session.commands, {
    doctor: () => runtime.doctor(),
    collect: (sinceMs) =>
      collectSupportBundle({
        stateDir: options.stateDir,
        pairingUriFile: options.uriFile,
        ...(options.hardwareId ? { hardwareId: options.hardwareId } : {}),
        ...(sinceMs !== undefined ? { sinceMs } : {}),
      }),
    uploadTarget: () => {
      const reg = session.tokens.registration();
      const ca = reg.config.siteServer.mqtt.caCertificatePem;
      const site = loadSiteRegistration(runtime.state.db);
      return {
        siteUrl: reg.config.siteServer.url,
        brokerUrl: reg.config.siteServer.mqtt.url,
        token: reg.edgeToken,
        ...(ca ? { caPem: ca } : {}),
        ...(site ? { sitePin: { siteServerUrl: site.siteServerUrl, fingerprint: site.fingerprint } } : {}),
      };
    },
  });
  session.on('config', (config) => options.log.apply(config.logs));
  session.on('traffic', (direction, topic, payload) => {
    if (watch.watching) watch.publish(trafficLine(direction, topic, payload, new Date(), deviceSecrets()));
  });
  return {
    start: () => watch.start().catch((error: unknown) => runtime.logger.warn('watch_socket_failed', { error })),
    close: () => watch.close(),
  };
}
