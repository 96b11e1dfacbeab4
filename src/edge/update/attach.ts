/**
 * Wires the update engine into a running service: `P/update` messages in, `P/update/state` out (retained, QoS 1),
 * reported again at every connect, the trial clock running only while online. The artifact is fetched with the
 * edge token from the site server the registration names, over https with the site CA when MQTT is mqtts.
 */
import type { EdgeRuntime } from '../runtime.js';
import type { EdgeSession } from '../session/session.js';
import type { UpdateEngine } from './engine.js';
import { createUpdateEngine, type EngineHooks } from './index.js';

export function attachUpdates(
  session: EdgeSession,
  runtime: EdgeRuntime,
  stateDir: string,
  requestRestart: () => void,
  extra: Partial<EngineHooks> = {},
): UpdateEngine {
  const engine = createUpdateEngine(runtime, stateDir, {
    publish: (report) => session.publish(session.topics.updateState, JSON.stringify(report), { qos: 1, retain: true }),
    requestRestart,
    downloadTarget: (url) => {
      const reg = session.tokens.registration();
      const ca = reg.config.siteServer.mqtt.caCertificatePem;
      return {
        url,
        token: reg.edgeToken,
        siteUrl: reg.config.siteServer.url,
        brokerUrl: reg.config.siteServer.mqtt.url,
        ...(ca ? { caPem: ca } : {}),
      };
    },
    ...extra,
  });
  session.on('update', (payload) => {
    engine.handleMessage(payload).catch((error: unknown) => runtime.logger.error('update_message_failed', { error }));
  });
  session.on('online', () => engine.online());
  session.on('state', (state) => {
    if (state !== 'online') engine.offline();
  });
  return engine;
}
