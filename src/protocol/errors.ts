/** The cloud's error body (CONTRACT §1) and every code a client may switch on. */
import { z } from 'zod';

export const ErrorCodes = [
  'VALIDATION_ERROR',
  'UNAUTHENTICATED',
  'INVALID_TOKEN',
  'TOKEN_EXPIRED',
  'INVALID_CREDENTIALS',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'SLUG_TAKEN',
  'IDEMPOTENCY_MISMATCH',
  'EDGE_ID_TAKEN',
  'LICENCE_BOUND',
  'LICENCE_INVALID',
  'PAIRING_CODE_INVALID',
  'PAIRING_CODE_USED',
  'EDGE_REVOKED',
  'ASSERTION_REPLAYED',
  'SITE_SERVER_REPLACED',
  'PAYLOAD_TOO_LARGE',
  // A release upload (issue 13): not signed by a trusted release key / not a valid manifest / artifact differs.
  'BAD_SIGNATURE',
  'BAD_MANIFEST',
  'HASH_MISMATCH',
  'RATE_LIMITED',
  'UNAVAILABLE',
  'INTERNAL_ERROR',
] as const;
export const ErrorCode = z.enum(ErrorCodes);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const ErrorDetail = z.object({ field: z.string(), message: z.string() });
export type ErrorDetail = z.infer<typeof ErrorDetail>;

/** What every error code looks like, known or not: a client shows or stores no other text as a code. */
export const ERROR_CODE_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/;

/** Clients parse errors leniently on `code` (a newer cloud may add codes) but strictly on shape. */
export const ErrorBody = z.object({
  error: z.object({
    code: z.string().regex(ERROR_CODE_PATTERN),
    message: z.string().max(2000),
    details: z.array(ErrorDetail).max(100).optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

/** The contract's error body; `details` only when there are any. */
export function errorBody(code: string, message: string, details?: ErrorDetail[]): ErrorBody {
  return { error: { code, message, ...(details?.length ? { details } : {}) } };
}

/** Turns a zod failure into the contract's `details` list. */
export function detailsFromZod(error: z.ZodError): ErrorDetail[] {
  return error.issues.map((issue) => ({
    field: issue.path.length ? issue.path.join('.') : '(body)',
    message: issue.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : issue.message,
  }));
}
