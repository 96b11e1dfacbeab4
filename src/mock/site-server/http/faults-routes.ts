/**
 * `/faults`: provoke what a real site goes through (embedded broker only; an external broker's faults are its
 * own). Every body is validated; `DELETE /faults` puts everything back, including a stopped listener and the
 * artifact faults (`/faults/update-artifact`, updates-routes.ts).
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { EdgeId } from '../../../protocol/index.js';
import type { EmbeddedBroker } from '../broker/embedded-broker.js';
import { HttpError } from '../../../common/http/http-error.js';
import { readBody } from './errors.js';

export const RefuseConnectsBody = z.strictObject({
  count: z.number().int().min(1).max(10_000),
  /** MQTT 3.1.1 CONNACK return code: 1 protocol, 2 identifier, 3 unavailable, 4 bad credentials, 5 not authorised. */
  returnCode: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4), z.literal(5)]).default(3),
});
export const DropBody = z.strictObject({ edgeId: EdgeId.optional() });
export const PauseBody = z.strictObject({ ms: z.number().int().min(1).max(600_000) });
export const ListenerBody = z.strictObject({ action: z.enum(['stop', 'start']) });

export function faultsRoutes(broker: EmbeddedBroker | undefined, resetOthers: () => void = () => {}): Hono {
  const app = new Hono();
  const need = (): EmbeddedBroker => {
    if (!broker)
      throw new HttpError<string>(
        409,
        'UNSUPPORTED',
        'faults need the embedded broker; with --broker external, provoke faults on that broker',
      );
    return broker;
  };
  const snapshot = (b: EmbeddedBroker) => b.faults.snapshot(b.listening ? 'running' : 'stopped');

  app.get('/', (c) => c.json(snapshot(need())));

  app.post('/refuse-connects', async (c) => {
    const b = need();
    const body = await readBody(c, RefuseConnectsBody);
    b.faults.refuseNextConnects(body.count, body.returnCode);
    return c.json(snapshot(b));
  });

  app.post('/drop', async (c) => {
    const b = need();
    const body = await readBody(c, DropBody);
    if (body.edgeId) {
      if (!b.dropEdge(body.edgeId)) throw new HttpError(404, 'NOT_FOUND', `${body.edgeId} is not connected`);
      return c.json({ dropped: [body.edgeId] });
    }
    const dropped = b.connectedEdges();
    b.dropAll();
    return c.json({ dropped });
  });

  app.post('/pause', async (c) => {
    const b = need();
    const body = await readBody(c, PauseBody);
    b.faults.pause(body.ms);
    return c.json(snapshot(b));
  });

  app.post('/listener', async (c) => {
    const b = need();
    const body = await readBody(c, ListenerBody);
    if (body.action === 'stop') await b.stopListener();
    else {
      try {
        await b.startListener();
      } catch (error) {
        throw new HttpError<string>(
          409,
          'CONFLICT',
          `cannot listen on port ${b.port} again (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
        );
      }
    }
    return c.json(snapshot(b));
  });

  app.delete('/', async (c) => {
    resetOthers();
    const b = need();
    b.faults.reset();
    await b.startListener();
    return c.json(snapshot(b));
  });

  return app;
}
