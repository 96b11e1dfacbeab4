/**
 * The rig's control API under `/_mock/`: arm, list and reset faults, shift the clock, check health. It is never
 * subject to faults itself, so a rig can always recover the mock. Everything but `/_mock/health` needs the
 * control token (`Authorization: Bearer …`): a fault or a clock shift is a denial of service for every device.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { CloudDeps, CloudEnv } from '../context.js';
import { ClockOffsetSeconds, FaultSpec } from '../faults.js';
import { readJson } from '../middleware/body.js';
import { requireControlToken } from '../../../common/http/control-token.js';

const ClockRequest = z.strictObject({ offsetSeconds: ClockOffsetSeconds });

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
    .put('/_mock/clock', async (c) => {
      const { offsetSeconds } = await readJson(c, ClockRequest);
      deps.faults.arm({ type: 'clock', offsetSeconds });
      deps.logger.info('clock_set', { offsetSeconds });
      return c.json(deps.faults.armed());
    });
}
