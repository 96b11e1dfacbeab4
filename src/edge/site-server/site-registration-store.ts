/**
 * How this device registered when it registered through a site server (issue 15): the site server's base URL and
 * the key fingerprint pinned at first contact (the only identity trusted for that origin from then on), whether
 * the site was connected or air-gapped, and for an air-gapped site the offline licence file whose `siteServerKey`
 * signs this device's tokens. Absent for a device paired with a code. Saved in the same transaction as the
 * registration; validated on read like every other state row.
 */
import { z } from 'zod';
import type { Db } from '../../storage/index.js';
import { SiteFingerprint } from '../../protocol/index.js';
import type { FetchLike } from '../cloud-client/http.js';
import { cloudFetchFor } from '../cloud-client/http-pinned.js';
import { KvStore } from '../stores/kv-store.js';
import { fingerprintPinnedFetch } from './pinned-https.js';

const KEY = 'site_registration';

export const SiteRegistration = z.object({
  siteServerUrl: z.url({ protocol: /^https$/ }),
  fingerprint: SiteFingerprint,
  mode: z.enum(['connected', 'air-gapped']),
  /** The offline licence file (compact JWS), air-gapped only: it names the key that signs this device's tokens. */
  licence: z.string().min(1).max(262_144).optional(),
});
export type SiteRegistration = z.infer<typeof SiteRegistration>;

export function loadSiteRegistration(db: Db): SiteRegistration | null {
  const text = new KvStore(db).get(KEY);
  if (text === undefined) return null;
  try {
    const parsed = SiteRegistration.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Saves (or with null, forgets) how the device registered; call inside the registration's transaction. */
export function saveSiteRegistration(db: Db, value: SiteRegistration | null): void {
  const kv = new KvStore(db);
  if (value) kv.set(KEY, JSON.stringify(SiteRegistration.parse(value)));
  else kv.delete(KEY);
}

/**
 * The fetch every HTTPS call of the device goes through: a call to the pinned site server's origin is checked
 * against its fingerprint (never a CA), any other (the cloud) as `cloudFetchFor` decides.
 */
export function edgeFetchFor(db: Db): FetchLike {
  const cloud = cloudFetchFor(db);
  const site = loadSiteRegistration(db);
  if (!site) return cloud;
  const pinned = fingerprintPinnedFetch(site.fingerprint);
  const origin = new URL(site.siteServerUrl).origin;
  return (input, init) => (new URL(input).origin === origin ? pinned(input, init) : cloud(input, init));
}
