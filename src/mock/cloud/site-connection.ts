/**
 * Where a site's edges connect now: the live site server's registration, or the site's reserved host name before
 * any server registered (protocol README item 11). register-edge hands it to a new edge inside its config; token
 * refresh hands it to every paired edge, bound to the new token by the `cfg` claim (issue 17).
 */
import type { SiteConnection } from '../../protocol/index.js';
import type { Db } from '../../storage/index.js';
import { findServer } from './store/servers.js';
import { siteHost } from './views.js';

export const defaultServerEndpoints = (hostname: string) => ({
  api: `https://${hostname}:5000`,
  mqtt: `mqtts://${hostname}:8883`,
});

export function currentSiteConnection(db: Db, site: { id: string; slug: string }): SiteConnection {
  const server = findServer(db, site.id);
  const live = server && !server.revokedAt ? server : undefined;
  const endpoints = live ? { api: live.apiUrl, mqtt: live.mqttUrl } : defaultServerEndpoints(siteHost(site.slug));
  // The site's own CA bundle, as its server registered it: the edge trusts only these, for mqtts and for https to
  // the site server's API (whose certificate may be in it even when MQTT is plain).
  const ca = live?.mqttCaPem ? { caCertificatePem: live.mqttCaPem } : {};
  return { url: endpoints.api, mqtt: { url: endpoints.mqtt, ...ca } };
}
