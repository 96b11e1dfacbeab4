/**
 * Releases (issue 13). `POST /api/releases`: a platform admin uploads a bundle file as the body; it is streamed to
 * disk under a size cap, its manifest verified against the trusted release keys and its artifact against the
 * manifest, and only then recorded. `GET /api/releases`: any signed-in user lists them. `GET …/{releaseId}/bundle`:
 * a platform admin, or the site token of a site with an active campaign naming the release, downloads it (`Range`).
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { Context } from 'hono';
import { Hono } from 'hono';
import { z } from 'zod';
import { byteRangeHeaders, parseByteRange } from '../../../common/http/byte-range.js';
import { HttpError } from '../../../common/http/http-error.js';
import {
  CLOUD_ROUTES,
  ReleaseArch,
  ReleaseKind,
  ReleaseName,
  ReleaseVerificationError,
  Uuid,
  verifyReleaseManifest,
  type ReleaseManifest,
} from '../../../protocol/index.js';
import type { CloudDeps, CloudEnv } from '../context.js';
import { authenticateUser, bearerOf, requireAuth } from '../middleware/auth.js';
import { readParams } from '../middleware/body.js';
import { authenticateSiteToken, bearsSiteToken } from '../middleware/site-token.js';
import type { ReceivedBundle } from '../release-bundles.js';
import { siteHasActiveCampaignFor } from '../store/campaigns.js';
import {
  findRelease,
  findReleaseByIdentity,
  insertRelease,
  listReleases,
  toReleaseView,
  type ReleaseRow,
} from '../store/releases.js';

const ReleaseParams = z.object({ releaseId: Uuid });
const ReleaseFilter = z.object({
  kind: ReleaseKind.optional(),
  arch: z.union([ReleaseArch, z.literal('any')]).optional(),
  name: ReleaseName.optional(),
});

/** The upload is the one body larger than the 64 KiB cap: `app.ts` lets it through to the cap of its own. */
export function isReleaseUpload(c: Context): boolean {
  return c.req.method === 'POST' && c.req.path === CLOUD_ROUTES.releases;
}

/**
 * Who may upload, and whether the body can be a bundle, decided before any of it is read. The unread rest means
 * the connection cannot carry another request, so each refusal closes it (Node would otherwise read it all).
 */
async function refuseUnreadUpload(deps: CloudDeps, c: Context): Promise<void> {
  try {
    if (!(await authenticateUser(deps, bearerOf(c))).platformAdmin)
      throw HttpError.forbidden('uploading a release needs a platform admin');
    const type = c.req.header('Content-Type');
    if (type !== undefined && !/^application\/octet-stream\s*(;|$)/i.test(type))
      throw new HttpError(400, 'VALIDATION_ERROR', 'the body is a bundle file: send it as application/octet-stream');
    if (Number(c.req.header('Content-Length')) > deps.releases.maxBundleBytes)
      throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `a bundle may be at most ${deps.releases.maxBundleBytes} bytes`);
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    throw new HttpError(error.status, error.code, error.message, error.details, {
      ...error.headers,
      Connection: 'close',
    });
  }
}

/** The manifest (signed by a trusted key) and the artifact (its size and sha256) of a received upload. */
async function verifyUpload(deps: CloudDeps, received: ReceivedBundle) {
  let verified: { manifest: ReleaseManifest; kid: string };
  try {
    verified = await verifyReleaseManifest(received.manifestJws, deps.releases.trust.keys);
  } catch (error) {
    if (error instanceof ReleaseVerificationError) throw new HttpError(400, error.code, error.message);
    throw error;
  }
  const { manifest } = verified;
  if (received.artifactSize !== manifest.size)
    throw new HttpError(
      400,
      'HASH_MISMATCH',
      `the artifact has ${received.artifactSize} bytes, its manifest says ${manifest.size}`,
    );
  if (received.artifactSha256 !== manifest.sha256)
    throw new HttpError(400, 'HASH_MISMATCH', 'the artifact does not match the sha256 of its manifest');
  return verified;
}

/** Records the release, or finds the same bytes uploaded before; different bytes under the same identity are 409. */
function recordRelease(deps: CloudDeps, row: ReleaseRow): { release: ReleaseRow; created: boolean } {
  return deps.db.transaction(() => {
    const existing = findReleaseByIdentity(deps.db, row);
    if (existing?.bundleSha256 === row.bundleSha256) return { release: existing, created: false };
    if (existing)
      throw new HttpError(
        409,
        'CONFLICT',
        `${row.name} ${row.version} (${row.arch}) was uploaded before with different bytes; a release is never replaced, give it a new version`,
      );
    insertRelease(deps.db, row);
    return { release: row, created: true };
  });
}

async function authoriseBundleDownload(deps: CloudDeps, c: Context, releaseId: string): Promise<void> {
  if (bearsSiteToken(c)) {
    const { siteId } = await authenticateSiteToken(deps, c);
    if (!findRelease(deps.db, releaseId)) throw HttpError.notFound('release');
    if (!siteHasActiveCampaignFor(deps.db, siteId, releaseId))
      throw HttpError.forbidden('no active campaign of this site names this release');
    return;
  }
  const user = await authenticateUser(deps, bearerOf(c));
  if (!user.platformAdmin) throw HttpError.forbidden('downloading a bundle needs a platform admin or a site token');
  if (!findRelease(deps.db, releaseId)) throw HttpError.notFound('release');
}

export function releaseRoutes(deps: CloudDeps): Hono<CloudEnv> {
  const { db, releases } = deps;
  return new Hono<CloudEnv>()
    .post(CLOUD_ROUTES.releases, async (c) => {
      await refuseUnreadUpload(deps, c);
      const received = await releases.bundles.receive(c.req.raw.body, releases.maxBundleBytes);
      let stored = received.partPath;
      let outcome: { release: ReleaseRow; created: boolean };
      try {
        const { manifest, kid } = await verifyUpload(deps, received);
        const id = randomUUID();
        // The file goes in place first: a crash before the row commits leaves an orphan file, never a row without one.
        stored = await releases.bundles.keep(received, id);
        outcome = recordRelease(deps, {
          id,
          kind: manifest.kind,
          name: manifest.name,
          version: manifest.version,
          arch: manifest.arch,
          manifestJws: received.manifestJws,
          kid,
          size: manifest.size,
          sha256: manifest.sha256,
          bundleSize: received.bundleSize,
          bundleSha256: received.bundleSha256,
          createdAt: manifest.createdAt,
          notes: manifest.notes ?? null,
          uploadedAt: deps.clock.iso(),
        });
      } catch (error) {
        await releases.bundles.discard(stored);
        throw error;
      }
      const { release, created } = outcome;
      if (!created) await releases.bundles.discard(stored);
      deps.logger.info(created ? 'release_uploaded' : 'release_upload_repeated', {
        releaseId: release.id,
        name: release.name,
        version: release.version,
        arch: release.arch,
        kid: release.kid,
      });
      return c.json(toReleaseView(release), created ? 201 : 200);
    })
    .get(CLOUD_ROUTES.releases, requireAuth(deps), (c) => {
      const filter = ReleaseFilter.safeParse(c.req.query());
      if (!filter.success) throw HttpError.validation(filter.error, 'the filter is not valid');
      return c.json({ releases: listReleases(db, filter.data).map(toReleaseView) });
    })
    .get(CLOUD_ROUTES.releaseBundle, async (c) => {
      const { releaseId } = readParams(c, ReleaseParams);
      await authoriseBundleDownload(deps, c, releaseId);
      const release = findRelease(db, releaseId)!;
      const range = parseByteRange(c.req.header('Range'), release.bundleSize);
      const headers = {
        'Content-Type': 'application/octet-stream',
        'Accept-Ranges': 'bytes',
        ETag: `"${release.bundleSha256}"`,
        ...byteRangeHeaders(range, release.bundleSize),
      };
      if (range.kind === 'unsatisfiable') return c.body(null, 416, headers);
      const span = range.kind === 'partial' ? range : { start: 0, end: release.bundleSize - 1 };
      const stream = Readable.toWeb(createReadStream(releases.bundles.bundlePath(releaseId), span));
      return c.body(stream as ReadableStream, range.kind === 'partial' ? 206 : 200, headers);
    });
}
