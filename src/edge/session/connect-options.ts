/**
 * The mqtt.js options of one connection to the site server: where (host, port, TLS pinned to the delivered CA) and,
 * for the link, how (a fresh client per attempt, MQTT 5 properties).
 */
import type { IClientOptions } from 'mqtt';
import { MAX_PAYLOAD_BYTES, type MqttConfig } from '../../protocol/index.js';
import type { MqttLinkOptions } from './mqtt-link.js';
import { pinnedTlsOptions, type PinnedTlsOptions } from './tls.js';

/** Room for the fixed header, topic and properties around the largest payload the contract allows. */
const PACKET_HEADROOM_BYTES = 16 * 1024;

export function mqttConnectOptions(
  config: MqttConfig,
): Pick<IClientOptions, 'host' | 'port' | 'protocol'> & Partial<PinnedTlsOptions> {
  const url = new URL(config.url);
  const secure = url.protocol === 'mqtts:';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  // Options, not a URL string: compiled Bun prints a url.parse() deprecation warning for strings.
  return {
    host,
    port: Number(url.port || (secure ? 8883 : 1883)),
    protocol: secure ? 'mqtts' : 'mqtt',
    // With a delivered CA it is the only one trusted; host names are verified either way.
    ...(secure ? pinnedTlsOptions(host, config.caCertificatePem) : {}),
  };
}

/** A fresh client per attempt, never reconnecting on its own: the password is read again for each one. */
export function linkClientOptions(options: MqttLinkOptions, version: 4 | 5): IClientOptions {
  return {
    ...mqttConnectOptions(options.mqtt),
    clientId: options.clientId,
    username: options.clientId,
    password: options.password(),
    clean: true,
    protocolVersion: version,
    keepalive: options.mqtt.keepaliveSeconds,
    reconnectPeriod: 0,
    connectTimeout: options.connectTimeoutMs ?? 10_000,
    will: { topic: options.will.topic, payload: Buffer.from(options.will.payload), qos: 1, retain: true },
    ...(version === 5
      ? {
          // Session expiry 0: the broker keeps nothing for us between connections; the outbox is the durable queue.
          // Topic aliases shorten the long per-edge topics, up to the limit the server announces in CONNACK.
          // Maximum packet size: a compliant broker then never sends this device more than it would refuse anyway.
          properties: {
            sessionExpiryInterval: 0,
            receiveMaximum: 32,
            topicAliasMaximum: 0,
            requestProblemInformation: true,
            maximumPacketSize: MAX_PAYLOAD_BYTES + PACKET_HEADROOM_BYTES,
          },
          autoAssignTopicAlias: true,
        }
      : {}),
  };
}
