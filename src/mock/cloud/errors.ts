/**
 * Every refusal the mock cloud makes is an `HttpError` (src/common/http), rendered by one `onError` into the
 * contract's error body (CONTRACT §1). Anything else is a bug: it is logged and answered with a generic 500.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ErrorCode } from '../../protocol/index.js';
import { HttpError } from '../../common/http/http-error.js';
import type { Logger } from '../../common/log/log.js';

/** The default code for a status, used by injected status faults and the generic fallbacks. */
export function codeForStatus(status: number): ErrorCode {
  const known: Record<number, ErrorCode> = {
    400: 'VALIDATION_ERROR',
    401: 'UNAUTHENTICATED',
    403: 'FORBIDDEN',
    404: 'NOT_FOUND',
    409: 'CONFLICT',
    413: 'PAYLOAD_TOO_LARGE',
    429: 'RATE_LIMITED',
    503: 'UNAVAILABLE',
  };
  return known[status] ?? (status >= 500 ? 'INTERNAL_ERROR' : 'CONFLICT');
}

export function errorResponse(c: Context, error: HttpError): Response {
  for (const [name, value] of Object.entries(error.headers)) c.header(name, value);
  return c.json(error.body, error.status as ContentfulStatusCode);
}

export function createErrorHandler(logger: Logger) {
  return (error: Error, c: Context): Response => {
    if (error instanceof HttpError) return errorResponse(c, error);
    logger.error('request_failed', { method: c.req.method, path: c.req.path, error });
    return errorResponse(c, new HttpError(500, 'INTERNAL_ERROR', 'internal error'));
  };
}
