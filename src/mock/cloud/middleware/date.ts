/** Every response carries a `Date` from the mock's clock (CONTRACT §1), so a clock fault is visible in headers. */
import type { MiddlewareHandler } from 'hono';
import type { Clock } from '../clock.js';

export function dateHeader(clock: Clock): MiddlewareHandler {
  return async (c, next) => {
    await next();
    c.res.headers.set('Date', clock.now().toUTCString());
  };
}
