/**
 * `POST …/sites/{siteId}/pairing-codes` (engineer+): a short, typeable, single-use code. Only its SHA-256 is
 * stored; the code itself exists in this one response. A code registers what it was minted for: an edge (the
 * default), or with `purpose: "server"` a site server, which only an admin+ may mint (issue 12 item 9).
 */
import { randomBytes } from 'node:crypto';
import { Hono } from 'hono';
import {
  CreatePairingCodeRequest,
  buildPairingUri,
  formatPairingCode,
  normalizePairingCode,
  type PairingCodeResponse,
  CLOUD_ROUTES,
} from '../../../protocol/index.js';
import type { CloudDeps, CloudEnv } from '../context.js';
import { HttpError } from '../../../common/http/http-error.js';
import { assertRole, requireAuth, requireRole } from '../middleware/auth.js';
import { readJson, readParams } from '../middleware/body.js';
import { hashPairingCode, insertPairingCode } from '../store/pairing-codes.js';
import { findLiveSite } from '../store/sites.js';
import { SiteParams } from './params.js';

const DEFAULT_TTL_SECONDS = 900;

export function pairingCodeRoutes(deps: CloudDeps): Hono<CloudEnv> {
  const { db } = deps;
  return new Hono<CloudEnv>().post(
    CLOUD_ROUTES.pairingCodes,
    requireAuth(deps),
    requireRole(deps, 'engineer'),
    async (c) => {
      const { orgId, siteId } = readParams(c, SiteParams);
      const body = await readJson(c, CreatePairingCodeRequest, { emptyAs: {} });
      const purpose = body.purpose ?? 'edge';
      // A site server decides where every edge of the site connects: minting its code takes what replacing it takes.
      if (purpose === 'server') assertRole(deps, c.get('user'), orgId, 'admin');
      const code = formatPairingCode(randomBytes(8));
      const now = deps.clock.nowMs();
      const expiresAt = new Date(now + (body.ttlSeconds ?? DEFAULT_TTL_SECONDS) * 1000).toISOString();
      db.transaction(() => {
        if (!findLiveSite(db, orgId, siteId)) throw HttpError.notFound('site');
        insertPairingCode(db, {
          codeHash: hashPairingCode(normalizePairingCode(code)!),
          orgId,
          siteId,
          edgeId: body.edgeId ?? null,
          purpose,
          createdAt: new Date(now).toISOString(),
          expiresAt,
        });
      });
      deps.logger.info('pairing_code_created', { orgId, siteId, edgeId: body.edgeId, purpose, expiresAt });
      const response: PairingCodeResponse = {
        code,
        expiresAt,
        purpose,
        pairingUri: buildPairingUri({
          cloud: deps.publicUrl,
          org: orgId,
          site: siteId,
          code,
          ...(body.edgeId ? { edge: body.edgeId } : {}),
        }),
      };
      return c.json(response, 201);
    },
  );
}
