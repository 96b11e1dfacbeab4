/**
 * One error type for every refusal the mock cloud makes, rendered by one `onError` into the contract's error
 * body (CONTRACT §1). Anything that is not an `ApiError` is a bug: it is logged and answered with a generic 500
 * so no internal message (or secret) leaks into a response.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';
import { detailsFromZod, type ErrorCode, type ErrorDetail } from '../../protocol/index.js';
import type { Logger } from '../../common/log/log.js';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  static validation(error: z.ZodError, message = 'the request is not valid'): ApiError {
    return new ApiError(400, 'VALIDATION_ERROR', message, detailsFromZod(error));
  }
  static notFound(what: string): ApiError {
    return new ApiError(404, 'NOT_FOUND', `${what} not found`);
  }
  static forbidden(message = 'your role does not allow this'): ApiError {
    return new ApiError(403, 'FORBIDDEN', message);
  }
  static unauthenticated(message = 'a valid bearer token is required', code: ErrorCode = 'UNAUTHENTICATED'): ApiError {
    return new ApiError(401, code, message, undefined, { 'WWW-Authenticate': 'Bearer' });
  }
}

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

export function errorResponse(c: Context, error: ApiError): Response {
  for (const [name, value] of Object.entries(error.headers)) c.header(name, value);
  const body = {
    error: { code: error.code, message: error.message, ...(error.details?.length ? { details: error.details } : {}) },
  };
  return c.json(body, error.status);
}

export function createErrorHandler(logger: Logger) {
  return (error: Error, c: Context): Response => {
    if (error instanceof ApiError) return errorResponse(c, error);
    logger.error('request_failed', { method: c.req.method, path: c.req.path, error });
    return errorResponse(c, new ApiError(500, 'INTERNAL_ERROR', 'internal error'));
  };
}
