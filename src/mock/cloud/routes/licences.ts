/**
 * Edge licences as an organisation's admins see them (issue 15): `GET …/licences` lists every key with its binding
 * and any conflicting binding a site server reported; `POST …/sites/{siteId}/offline-licence` exports the file an
 * air-gapped site server checks keys against. The file is signed with the cloud's licence key and names the site
 * server's own signing key, so a device can verify a site-issued token with nothing but the built-in licence key.
 */
import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import {
  CLOUD_ROUTES,
  licenceHash,
  MAX_LICENCE_FILE_CHARS,
  OfflineLicenceRequest,
  type ErrorDetail,
  type OfflineLicenceClaims,
  type OfflineLicenceResponse,
} from '../../../protocol/index.js';
import type { CloudDeps, CloudEnv } from '../context.js';
import { HttpError } from '../../../common/http/http-error.js';
import { requireAuth, requireRole } from '../middleware/auth.js';
import { readJson, readParams } from '../middleware/body.js';
import { findLicence, licenceViews, listLicences } from '../store/licences.js';
import { findServer } from '../store/servers.js';
import { findLiveSite } from '../store/sites.js';
import { OrgParams, SiteParams } from './params.js';

export function licenceRoutes(deps: CloudDeps): Hono<CloudEnv> {
  const { db } = deps;
  return new Hono<CloudEnv>()
    .get(CLOUD_ROUTES.licences, requireAuth(deps), requireRole(deps, 'admin'), (c) => {
      const { orgId } = readParams(c, OrgParams);
      return c.json({ licences: licenceViews(db, orgId) });
    })
    .post(CLOUD_ROUTES.offlineLicence, requireAuth(deps), requireRole(deps, 'admin'), async (c) => {
      const { orgId, siteId } = readParams(c, SiteParams);
      const body = await readJson(c, OfflineLicenceRequest, { emptyAs: {} });
      if (!findLiveSite(db, orgId, siteId)) throw HttpError.notFound('site');
      const server = findServer(db, siteId);
      if (!server || server.revokedAt || !server.signingKey)
        throw new HttpError(
          409,
          'CONFLICT',
          "this site's server registered no signing key: start a site server that sends one (register-server " +
            '`signingKey`) and register it, then export the licence file again',
        );
      const licences = body.licenceKeys
        ? requestedLicences(deps, orgId, siteId, body.licenceKeys)
        : freeLicences(deps, orgId);
      const claims: OfflineLicenceClaims = {
        typ: 'offline-licence',
        iss: deps.publicUrl,
        jti: randomUUID(),
        org: orgId,
        site: siteId,
        licenceHashes: licences.map((key) => licenceHash(siteId, key)),
        siteServerKey: server.signingKey,
        iat: deps.clock.nowSeconds(),
      };
      const licenceFile = await deps.licenceSigner.sign(claims);
      if (licenceFile.length > MAX_LICENCE_FILE_CHARS)
        throw new HttpError(
          409,
          'CONFLICT',
          `${licences.length} licences make a file larger than a site server or device accepts; name fewer with licenceKeys`,
        );
      deps.logger.info('offline_licence_exported', {
        orgId,
        siteId,
        jti: claims.jti,
        licences: licences.length,
        siteServerKey: server.signingKey.kid,
        by: c.get('user').id,
      });
      const response: OfflineLicenceResponse = { licenceFile, licences: licences.length };
      return c.json(response, 200);
    });
}

/** The organisation's unbound keys: what a site may activate when the admin names none. */
function freeLicences(deps: CloudDeps, orgId: string): string[] {
  const free = listLicences(deps.db, orgId)
    .filter((licence) => !licence.binding)
    .map((licence) => licence.key);
  if (free.length === 0)
    throw new HttpError(
      409,
      'CONFLICT',
      'every licence of this organisation is bound already; there is none to export',
    );
  return free;
}

/** The named keys, each of this organisation and not bound at another site; otherwise 400 naming each bad key. */
function requestedLicences(deps: CloudDeps, orgId: string, siteId: string, keys: readonly string[]): string[] {
  const details: ErrorDetail[] = [];
  keys.forEach((key, i) => {
    const licence = findLicence(deps.db, key);
    if (!licence || licence.orgId !== orgId)
      details.push({ field: `licenceKeys.${i}`, message: 'not a licence of this organisation' });
    else if (licence.binding && licence.binding.siteId !== siteId)
      details.push({ field: `licenceKeys.${i}`, message: 'bound to an edge at another site' });
  });
  if (details.length > 0)
    throw new HttpError(400, 'VALIDATION_ERROR', 'some licence keys cannot be exported for this site', details);
  return [...new Set(keys)];
}
