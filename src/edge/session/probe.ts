/**
 * One connect attempt to the site server, for the last pairing step and `doctor`: proves the broker is reachable
 * and accepts this device's token, then disconnects cleanly (no will, no retained message).
 */
import mqtt from 'mqtt';
import type { Registration } from '../state/registration-store.js';
import { mqttConnectOptions } from './mqtt-link.js';

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
    const timer = setTimeout(() => finish(new Error(`no answer from the site server at ${config.url} within ${timeoutMs / 1000} s`)), timeoutMs);
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
      finish(new Error(typeof code === 'number' ? `the site server refused this device (CONNACK ${code})` : `cannot reach the site server at ${config.url} (${(error as { code?: string }).code ?? error.message})`));
    });
    client.on('close', () => finish(new Error(`the site server at ${config.url} closed the connection`)));
  });
}
