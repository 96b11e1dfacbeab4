/**
 * The one error type for a refusal any of our HTTP servers makes (the mock cloud, the mock site server's control
 * API, the device's producer API). Each server renders it as the contract's error body (`errorBody`, CONTRACT §1);
 * anything thrown that is not an `HttpError` is a bug and is answered with a generic 500, so no internal message
 * (or secret) leaks into a response. `Code` is the contract's `ErrorCode` unless a server documents codes of its
 * own (the site server's control API answers `UNSUPPORTED`).
 */
import type { z } from 'zod';
import { detailsFromZod, errorBody, type ErrorBody, type ErrorCode, type ErrorDetail } from '../../protocol/index.js';

export class HttpError<Code extends string = ErrorCode> extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: Code,
    message: string,
    readonly details?: ErrorDetail[],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  /** The response body: the contract's error shape. */
  get body(): ErrorBody {
    return errorBody(this.code, this.message, this.details);
  }

  static validation(error: z.ZodError, message = 'the request is not valid'): HttpError {
    return new HttpError(400, 'VALIDATION_ERROR', message, detailsFromZod(error));
  }
  static notFound(what: string): HttpError {
    return new HttpError(404, 'NOT_FOUND', `${what} not found`);
  }
  static forbidden(message = 'your role does not allow this'): HttpError {
    return new HttpError(403, 'FORBIDDEN', message);
  }
  static unauthenticated(message = 'a valid bearer token is required', code: ErrorCode = 'UNAUTHENTICATED'): HttpError {
    return new HttpError(401, code, message, undefined, { 'WWW-Authenticate': 'Bearer' });
  }
}
