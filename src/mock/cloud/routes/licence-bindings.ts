/**
 * `POST …/sites/{siteId}/site-server/licence-bindings` (the site's own site token): an air-gapped site server,
 * once it reaches the cloud, reports the licences it bound offline. Each binding is recorded with the edge's
 * registration (the uuid the site issued, so the edge appears in the edge list with its public key), `known` when
 * it was recorded before, or kept as a `conflict` for an admin when the key is bound to other hardware or at
 * another site: the cloud never silently accepts a key bound twice. The whole report is one transaction, so a
 * report cut off by a power failure is recorded entirely or not at all, and sending it again is harmless.
 */
import { Hono } from 'hono';
import {
  CLOUD_ROUTES,
  LicenceBindingReport,
  type LicenceBindingReportResponse,
  type ErrorDetail,
} from '../../../protocol/index.js';
import type { CloudDeps, CloudEnv } from '../context.js';
import { HttpError } from '../../../common/http/http-error.js';
import { bearerOf } from '../middleware/auth.js';
import { readJson, readParams } from '../middleware/body.js';
import { authenticateSiteServer, isSiteToken } from '../middleware/site-token.js';
import { findActiveEdgeByEdgeId, findEdgeByUuid, insertEdge, revokeHardwareInSite } from '../store/edges.js';
import { bindLicence, findLicence, recordLicenceConflict, type LicenceBindingRow } from '../store/licences.js';
import { findLiveSite, type SiteRow } from '../store/sites.js';
import { SiteParams } from './params.js';

type ReportedBinding = LicenceBindingReport['bindings'][number];
type Status = LicenceBindingReportResponse['results'][number]['status'];

/** The report does not carry the edge's version and host name; the edge sends its own with its first status. */
const UNKNOWN_VERSION = 'unknown';

export function licenceBindingRoutes(deps: CloudDeps): Hono<CloudEnv> {
  const { db } = deps;
  return new Hono<CloudEnv>().post(CLOUD_ROUTES.licenceBindings, async (c) => {
    const { orgId, siteId } = readParams(c, SiteParams);
    const bearer = bearerOf(c);
    if (!isSiteToken(bearer)) throw HttpError.unauthenticated('the site token of this site is required');
    await authenticateSiteServer(deps, bearer, orgId, siteId);
    const report = await readJson(c, LicenceBindingReport);

    const results = db.transaction(() => {
      const site = findLiveSite(db, orgId, siteId);
      if (!site) throw HttpError.notFound('site');
      assertOrganisationLicences(deps, orgId, report);
      return report.bindings.map((binding) => ({
        licenceKey: binding.licenceKey,
        status: applyBinding(deps, site, binding),
      }));
    });
    report.bindings.forEach((binding, i) => {
      // For admins to settle (the licence list shows the key; the log does not, it is the edge's credential).
      if (results[i]!.status === 'conflict')
        deps.logger.warn('licence_conflict_reported', {
          orgId,
          siteId,
          edgeId: binding.edgeId,
          hardwareId: binding.hardwareId,
        });
    });
    deps.logger.info('licence_bindings_reported', {
      orgId,
      siteId,
      ...Object.fromEntries(
        (['recorded', 'known', 'conflict'] as const).map((s) => [s, results.filter((r) => r.status === s).length]),
      ),
    });
    const response: LicenceBindingReportResponse = { results };
    return c.json(response, 200);
  });
}

/** A key the cloud never gave this organisation cannot have come from its offline licence file: refuse it all. */
function assertOrganisationLicences(deps: CloudDeps, orgId: string, report: LicenceBindingReport): void {
  const details: ErrorDetail[] = [];
  report.bindings.forEach((binding, i) => {
    if (findLicence(deps.db, binding.licenceKey)?.orgId !== orgId)
      details.push({ field: `bindings.${i}.licenceKey`, message: 'not a licence of this organisation' });
  });
  if (details.length > 0)
    throw new HttpError(
      403,
      'LICENCE_INVALID',
      'the report names licence keys this organisation does not hold',
      details,
    );
}

function applyBinding(deps: CloudDeps, site: SiteRow, reported: ReportedBinding): Status {
  const { db } = deps;
  const binding: LicenceBindingRow = {
    edgeId: reported.edgeId,
    siteId: site.id,
    hardwareId: reported.hardwareId,
    boundAt: reported.boundAt,
    via: 'site',
  };
  const current = findLicence(db, reported.licenceKey)?.binding;
  const sameDevice = !current || (current.hardwareId === reported.hardwareId && current.siteId === site.id);
  const idTaken = findActiveEdgeByEdgeId(db, site.id, reported.edgeId);
  const conflict = (): Status => {
    recordLicenceConflict(db, reported.licenceKey, binding, deps.clock.iso());
    return 'conflict';
  };
  // Another device holding the key or the edge id: recording it would take them from that device.
  if (!sameDevice || (idTaken && idTaken.hardwareId !== reported.hardwareId)) return conflict();
  const known = findEdgeByUuid(db, reported.edgeUuid);
  if (known) return known.siteId === site.id && known.hardwareId === reported.hardwareId ? 'known' : conflict();
  // The device registered again offline (a reset): like a re-pair, its earlier registrations at the site end.
  revokeHardwareInSite(db, site.id, reported.hardwareId, deps.clock.iso());
  insertEdge(db, {
    id: reported.edgeUuid,
    orgId: site.orgId,
    siteId: site.id,
    edgeId: reported.edgeId,
    hardwareId: reported.hardwareId,
    version: UNKNOWN_VERSION,
    hostname: reported.edgeId,
    publicJwk: reported.publicKey,
    registeredAt: reported.boundAt,
    revokedAt: null,
  });
  bindLicence(db, reported.licenceKey, binding);
  return 'recorded';
}
