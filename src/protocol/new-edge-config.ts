/**
 * The configuration a newly registered edge gets, whether it registered with the cloud or through a site server:
 * the site's current connection, its own topic prefix, and the contract's defaults, which the site server may
 * change later over `P/config`.
 */
import type { EdgeConfig } from './cloud-api.js';
import type { SiteConnection } from './site-connection.js';
import { edgeTopicPrefix } from './topics.js';

export const NEW_EDGE_DEFAULTS = {
  heartbeatSeconds: 30,
  keepaliveSeconds: 30,
  buffer: { retentionDays: 7, maxSizeMb: 1024 },
} as const;

export function newEdgeConfig(connection: SiteConnection, siteId: string, edgeId: string): EdgeConfig {
  return {
    siteServer: {
      url: connection.url,
      mqtt: {
        ...connection.mqtt,
        topicPrefix: edgeTopicPrefix(siteId, edgeId),
        keepaliveSeconds: NEW_EDGE_DEFAULTS.keepaliveSeconds,
      },
    },
    heartbeatSeconds: NEW_EDGE_DEFAULTS.heartbeatSeconds,
    buffer: { ...NEW_EDGE_DEFAULTS.buffer },
  };
}
