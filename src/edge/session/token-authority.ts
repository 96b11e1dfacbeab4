/**
 * Who renews this device's edge token, and with which keys its answer is checked. A token the cloud issued (a
 * pairing code, or a site server on a connected site) is renewed at the cloud and checked against the cloud's
 * key set, and its refresh answer may move the device to a new site connection (issue 17). A token an air-gapped
 * site server issued is renewed at that site server (`SITE_EDGE_ROUTES.token`, over the pinned transport) and
 * checked against the one key the offline licence file names; the licence is checked again with the built-in
 * cloud licence key first, so a state file edited to name another key is refused.
 */
import type { JSONWebKeySet } from 'jose';
import { SITE_EDGE_ROUTES, siteEdgeUrl, siteIssuer } from '../../protocol/index.js';
import type { EdgeClock } from '../clock.js';
import { refreshUrl } from '../cloud-client/edge-api.js';
import type { FetchLike } from '../cloud-client/http.js';
import { fetchJwks } from '../cloud-client/jwks.js';
import { EdgeError } from '../errors.js';
import { siteKeySet, verifyOfflineLicence } from '../site-server/licence-chain.js';
import type { SiteRegistration } from '../site-server/site-registration-store.js';
import type { Registration } from '../stores/registration-store.js';

export interface TokenAuthority {
  /** The refresh URL, which is also the assertion's exact `aud`. */
  refreshUrl: string;
  issuer: string;
  /** The keys the new token must be signed with (fetching them also samples the issuer's clock). */
  keys(): Promise<JSONWebKeySet>;
}

export function tokenAuthorityFor(
  reg: Registration,
  site: SiteRegistration | null,
  deps: { fetch: FetchLike; clock: EdgeClock },
): TokenAuthority {
  if (site?.mode === 'air-gapped') {
    return {
      refreshUrl: siteEdgeUrl(site.siteServerUrl, SITE_EDGE_ROUTES.token, { edgeId: reg.edgeId }),
      issuer: siteIssuer(reg.siteId),
      keys: async () => {
        if (!site.licence) throw new EdgeError('NOT_PAIRED', 'the offline licence file is missing; register again');
        return siteKeySet(await verifyOfflineLicence(site.licence, { orgId: reg.orgId, siteId: reg.siteId }));
      },
    };
  }
  return {
    refreshUrl: refreshUrl(reg, reg.edgeId),
    issuer: reg.cloudUrl,
    keys: async () => {
      const { jwks, response } = await fetchJwks(deps.fetch, reg.cloudUrl, Date.now);
      if (response.time) deps.clock.observe(response.time);
      return jwks;
    },
  };
}
