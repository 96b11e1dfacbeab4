/**
 * The rig's control API under `/_mock/`: arm, list and reset faults, shift the clock, check health. It is never
 * subject to faults itself, so a rig can always recover the mock. Everything but `/_mock/health` needs the
 * control token (`Authorization: Bearer …`): a fault or a clock shift is a denial of service for every device.
 */
import { randomInt } from 'node:crypto';
import { Hono } from 'hono';
import { z } from 'zod';
import type { CloudDeps, CloudEnv } from '../context.js';
import { ClockOffsetSeconds, FaultSpec } from '../faults.js';
import { Uuid } from '../../../protocol/index.js';
import { HttpError } from '../../../common/http/http-error.js';
import { readJson } from '../middleware/body.js';
import { insertLicences } from '../store/licences.js';
import { findOrganisation } from '../store/organisations.js';
import { requireControlToken } from '../../../common/http/control-token.js';

const ClockRequest = z.strictObject({ offsetSeconds: ClockOffsetSeconds });
/** A rig that needs more edges than the seed's licences mints more for an organisation. */
const MintLicencesRequest = z.strictObject({ orgId: Uuid, count: z.number().int().min(1).max(1000) });

const LICENCE_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
function randomLicenceKey(): string {
  const group = () => Array.from({ length: 4 }, () => LICENCE_ALPHABET[randomInt(LICENCE_ALPHABET.length)]).join('');
  return `CST-EDGE-${group()}-${group()}-${group()}`;
}

export function mockControlRoutes(deps: CloudDeps): Hono<CloudEnv> {
  return new Hono<CloudEnv>()
    .use(
      '/_mock/*',
      requireControlToken(deps.controlToken, (path) => path === '/_mock/health'),
    )
    .get('/_mock/health', (c) => c.json({ ok: true, serverTime: deps.clock.iso() }))
    .get('/_mock/faults', (c) => c.json(deps.faults.armed()))
    .post('/_mock/faults', async (c) => {
      const fault = await readJson(c, FaultSpec);
      deps.faults.arm(fault);
      deps.logger.info('fault_armed', { fault });
      return c.json(deps.faults.armed(), 201);
    })
    .delete('/_mock/faults', (c) => {
      deps.faults.reset();
      deps.logger.info('faults_reset');
      return c.json(deps.faults.armed());
    })
    .post('/_mock/licences', async (c) => {
      const { orgId, count } = await readJson(c, MintLicencesRequest);
      const licences = Array.from({ length: count }, randomLicenceKey);
      deps.db.transaction(() => {
        if (!findOrganisation(deps.db, orgId)) throw HttpError.notFound('organisation');
        insertLicences(deps.db, orgId, licences, deps.clock.iso());
      });
      deps.logger.info('licences_minted', { orgId, count });
      return c.json({ licences }, 201);
    })
    .put('/_mock/clock', async (c) => {
      const { offsetSeconds } = await readJson(c, ClockRequest);
      deps.faults.arm({ type: 'clock', offsetSeconds });
      deps.logger.info('clock_set', { offsetSeconds });
      return c.json(deps.faults.armed());
    });
}
