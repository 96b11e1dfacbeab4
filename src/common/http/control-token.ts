/**
 * The bearer token that guards a mock's control API (the site server's `/edges` and `/faults`, the cloud's
 * `/_mock/`). Generated when the operator gives none, compared in constant time, and answered with a 401 that
 * never echoes what was sent.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { errorBody } from '../../protocol/index.js';

export function generateControlToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Constant-time: both sides are hashed first, so neither the length nor a prefix of the token leaks. */
export function bearerMatches(authorization: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match) return false;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(match[1]!), digest(token));
}

/**
 * Refuses a request without the token, with a 401 in the contract's error shape. `Connection: close`, because
 * the body of a refused request is never read.
 */
export function requireControlToken(token: string, isOpen: (path: string) => boolean = () => false): MiddlewareHandler {
  return async (c, next) => {
    if (isOpen(c.req.path) || bearerMatches(c.req.header('authorization'), token)) return next();
    const why =
      'the control API needs "Authorization: Bearer <controlToken>" (see the ready line or --control-token-file)';
    return c.json(errorBody('UNAUTHENTICATED', why), 401, { 'WWW-Authenticate': 'Bearer', Connection: 'close' });
  };
}
