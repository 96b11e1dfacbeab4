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
import { inSiteServerWords } from '../site-server/site-api.js';
import type { SiteRegistration } from '../site-server/site-registration-store.js';
import type { Registration } from '../stores/registration-store.js';

export interface TokenAuthority {
  /** The refresh URL, which is also the assertion's exact `aud`. */
  refreshUrl: string;
  issuer: string;
  /** The keys the new token must be signed with (fetching them also samples the issuer's clock). */
  keys(): Promise<JSONWebKeySet>;
  /** A failed refresh in the words of who refused it (the shared classifier speaks of "the cloud"). */
  explain(error: unknown): unknown;
}

/** Refusals of this registration itself: the site server no longer accepts it, and no pairing code can help. */
const REGISTRATION_REFUSED = new Set(['UNAUTHENTICATED', 'INVALID_TOKEN', 'EDGE_REVOKED']);

/** What a site server's refusal means on an air-gapped site, where a new pairing code cannot help. */
function explainSiteRefusal(error: unknown, site: SiteRegistration, edgeId: string): unknown {
  if (error instanceof EdgeError && error.cloudCode && REGISTRATION_REFUSED.has(error.cloudCode))
    return new EdgeError(
      error.code,
      `the site server ${site.siteServerUrl} did not accept this device's registration (it was replaced or removed there, or the site server lost it); ask the site admin to check the licence binding of ${edgeId} on the site server, then register again: consystence-edge register --force --site-server ${site.siteServerUrl} --edge-id ${edgeId} --licence-key-file FILE`,
      { cloudCode: error.cloudCode },
    );
  // Busy, unreachable, malformed: the same failures, but at the site server.
  return inSiteServerWords(error);
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
      explain: (error) => explainSiteRefusal(error, site, reg.edgeId),
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
    explain: (error) => error,
  };
}
