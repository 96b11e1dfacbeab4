/**
 * One connect attempt to the site server, for the last pairing step and `doctor`: proves the broker is reachable
 * and accepts this device's token, then disconnects cleanly (no will, no retained message).
 */
import mqtt from 'mqtt';
import type { Registration } from '../stores/registration-store.js';
import { mqttConnectOptions } from './connect-options.js';
import { describeLinkFailure } from './mqtt-link.js';
import { connackReason } from './mqtt-reasons.js';

export function probeConnect(registration: Registration, timeoutMs = 8_000): Promise<void> {
  const config = registration.config.siteServer.mqtt;
  return new Promise((resolve, reject) => {
    const client = mqtt.connect({
      ...mqttConnectOptions(config),
      clientId: registration.edgeId,
      username: registration.edgeId,
      password: registration.edgeToken,
      clean: true,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: timeoutMs,
    });
    const timer = setTimeout(
      () => finish(new Error(`no answer from the site server at ${config.url} within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
    let done = false;
    function finish(error?: Error) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      client.end(!!error, {}, () => (error ? reject(error) : resolve()));
      if (error) client.end(true);
    }
    client.on('connect', () => finish());
    client.on('error', (error) => {
      const code = (error as { code?: unknown }).code;
      // 3.1.1 here: every broker speaks it, and this check is about reachability, TLS trust and the token.
      finish(
        new Error(
          typeof code === 'number' ? connackReason(code, 4).text : describeLinkFailure(config, error, 'transport'),
        ),
      );
    });
    client.on('close', () => finish(new Error(`the site server at ${config.url} closed the connection`)));
  });
}
