/**
 * register-server and register-edge accept either a pairing code or a user's access token as the bearer. A code
 * is recognised by its shape (a JWT never normalises to 8 Crockford characters). The code is only located
 * here; whether it is still usable is decided inside the write transaction (`claimPairingCode`), so two
 * concurrent uses cannot both win and an idempotent replay is decided before a used code is refused.
 */
import type { Context } from 'hono';
import { normalizePairingCode, type Role } from '../../../protocol/index.js';
import type { AuthUser, CloudDeps } from '../context.js';
import { HttpError } from '../../../common/http/http-error.js';
import { assertRole, authenticateUser, bearerOf } from '../middleware/auth.js';
import { findPairingCode, hashPairingCode, markPairingCodeUsed, type PairingCodeRow } from '../store/pairing-codes.js';

export type SiteCredential =
  | { kind: 'code'; code: PairingCodeRow; fingerprint: string }
  | { kind: 'user'; user: AuthUser; fingerprint: string };

const invalidCode = () =>
  new HttpError(401, 'PAIRING_CODE_INVALID', 'the pairing code is unknown or has expired; ask for a new one');

export async function siteCredential(
  deps: CloudDeps,
  c: Context,
  orgId: string,
  siteId: string,
  minimumRole: Role,
): Promise<SiteCredential> {
  const bearer = bearerOf(c);
  if (!bearer) throw HttpError.unauthenticated('a pairing code or an access token is required');
  const normalized = normalizePairingCode(bearer);
  if (normalized) {
    const codeHash = hashPairingCode(normalized);
    const code = findPairingCode(deps.db, codeHash);
    if (!code || code.orgId !== orgId || code.siteId !== siteId) throw invalidCode();
    return { kind: 'code', code, fingerprint: `code:${codeHash}` };
  }
  const user = await authenticateUser(deps, bearer);
  assertRole(deps, user, orgId, minimumRole);
  return { kind: 'user', user, fingerprint: `user:${user.id}` };
}

/** Burns the code. Call inside the transaction that does the work, so a failure leaves the code unused. */
export function claimPairingCode(deps: CloudDeps, code: PairingCodeRow): void {
  const current = findPairingCode(deps.db, code.codeHash);
  if (!current) throw invalidCode();
  if (current.usedAt)
    throw new HttpError(401, 'PAIRING_CODE_USED', 'the pairing code has already been used; ask for a new one');
  if (Date.parse(current.expiresAt) <= deps.clock.nowMs()) throw invalidCode();
  markPairingCodeUsed(deps.db, code.codeHash, deps.clock.iso());
}
