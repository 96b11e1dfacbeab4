/**
 * Which site server endpoint and CAs the device uses, for `status` and `doctor` (issue 17), read from the database
 * only: the endpoint in use (the registration), a signed new one waiting to be tried, and the fallback kept from
 * before the last switch. `trial` comes from the running service's snapshot.
 */
import { caFingerprints } from '../session/site-follower.js';
import type { EdgeStores } from '../stores/index.js';
import type { SiteEndpoint } from '../stores/status-store.js';

export function siteEndpointReport(state: EdgeStores): SiteEndpoint | null {
  const reg = state.registration.get();
  if (!reg) return null;
  const running = state.status.read()?.snapshot.siteEndpoint;
  return {
    mqttUrl: running?.trial ? running.mqttUrl : reg.config.siteServer.mqtt.url,
    trial: running?.trial ?? false,
    caFingerprints: running?.trial
      ? running.caFingerprints
      : caFingerprints(reg.config.siteServer.mqtt.caCertificatePem),
    candidateUrl: state.siteEndpoints.candidate()?.connection.mqtt.url ?? null,
    fallbackUrl: state.siteEndpoints.fallback()?.mqtt.url ?? null,
  };
}

/** One line: what is dialled and trusted, then what else is held. */
export function describeSiteEndpoint(site: SiteEndpoint): string {
  const cas = !site.mqttUrl.startsWith('mqtts:')
    ? 'unencrypted, no TLS'
    : site.caFingerprints.length
      ? `trusting CA ${site.caFingerprints.join(', ')}`
      : 'trusting the system CA store (no site CA delivered)';
  const parts = [`${site.mqttUrl} ${site.trial ? '(new, being tried) ' : ''}${cas}`];
  if (site.candidateUrl && !site.trial) parts.push(`new endpoint waiting to be tried: ${site.candidateUrl}`);
  if (site.fallbackUrl) parts.push(`fallback: ${site.fallbackUrl}`);
  return parts.join('; ');
}
