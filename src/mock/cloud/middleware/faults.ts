/**
 * Applies the armed fault plan to each call (never to `/_mock/*`, so a rig can always disarm). Status faults
 * answer before the work; response faults run the work, let it commit, then spoil the answer.
 */
import type { MiddlewareHandler } from 'hono';
import type { CloudEnv } from '../context.js';
import { HttpError } from '../../../common/http/http-error.js';
import { codeForStatus } from '../errors.js';
import type { FaultPlan, ResponseFault } from '../faults.js';
import type { ErrorCode } from '../../../protocol/index.js';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { sleep } from '../../../common/time/sleep.js';

export function injectFaults(plan: FaultPlan): MiddlewareHandler<CloudEnv> {
  return async (c, next) => {
    const { method, path } = c.req;
    if (path === '/_mock' || path.startsWith('/_mock/')) return next();

    const delay = plan.latencyFor(method, path);
    if (delay > 0) await sleep(delay);

    const status = plan.takeStatus(method, path);
    if (status) {
      const headers: Record<string, string> =
        status.retryAfterSeconds !== undefined ? { 'Retry-After': String(status.retryAfterSeconds) } : {};
      throw new HttpError(
        status.status as ContentfulStatusCode,
        (status.code ?? codeForStatus(status.status)) as ErrorCode,
        status.message ?? `injected fault: ${status.status}`,
        undefined,
        headers,
      );
    }

    const spoil = plan.takeResponseFault(method, path);
    await next();
    if (spoil) await applyResponseFault(c, spoil);
  };
}

async function applyResponseFault(c: Parameters<MiddlewareHandler<CloudEnv>>[0], fault: ResponseFault): Promise<void> {
  if (fault.type === 'drop-after-commit') {
    // The handler has committed; now the client must never learn the outcome. Without a socket (in-process
    // `app.request()`), a 502 with no body is the closest stand-in.
    c.env?.incoming?.socket.destroy();
    c.res = new Response(null, { status: 502 });
    return;
  }
  const text = await c.res.text();
  const body =
    fault.type === 'malformed-body'
      ? `<html><body>upstream error</body></html>`
      : text.slice(0, Math.floor(text.length / 2));
  const headers = new Headers(c.res.headers);
  headers.delete('content-length');
  headers.set('content-type', 'application/json');
  c.res = new Response(body, { status: c.res.status, headers });
}
