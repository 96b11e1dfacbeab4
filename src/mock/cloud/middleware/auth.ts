/**
 * Who is calling, and may they? The access token proves identity; the role always comes from the database
 * (a token minted before the user created an organisation must still work in it). A platform admin acts as
 * owner in every organisation.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { roleAtLeast, Uuid, type Role } from '../../../protocol/index.js';
import type { AuthUser, CloudDeps, CloudEnv } from '../context.js';
import { HttpError } from '../../../common/http/http-error.js';
import { findOrganisation } from '../store/organisations.js';
import { findUserById, roleIn } from '../store/users.js';
import { readParams } from './body.js';

/** The bearer credential, or undefined when there is none (not every route needs a JWT: pairing codes). */
export function bearerOf(c: Context): string | undefined {
  const header = c.req.header('Authorization');
  const match = header?.match(/^Bearer\s+(\S{1,8192})\s*$/i);
  return match?.[1];
}

export async function authenticateUser(deps: CloudDeps, token: string | undefined): Promise<AuthUser> {
  if (!token) throw HttpError.unauthenticated();
  const claims = await deps.tokens.verifyAccessToken(token);
  const user = findUserById(deps.db, claims.sub);
  if (!user) throw HttpError.unauthenticated('the token is not valid', 'INVALID_TOKEN');
  return { id: user.id, email: user.email, platformAdmin: user.platformAdmin };
}

export function roleOf(deps: CloudDeps, user: AuthUser, orgId: string): Role | undefined {
  if (user.platformAdmin) return 'owner';
  return roleIn(deps.db, user.id, orgId);
}

/** Resolves the caller's role in an organisation: 404 for an unknown organisation, 403 for a non-member or too low a role. */
export function assertRole(deps: CloudDeps, user: AuthUser, orgId: string, minimum: Role): Role {
  if (!findOrganisation(deps.db, orgId)) throw HttpError.notFound('organisation');
  const role = roleOf(deps, user, orgId);
  if (!role) throw HttpError.forbidden('you are not a member of this organisation');
  if (!roleAtLeast(role, minimum))
    throw HttpError.forbidden(`this needs the ${minimum} role or higher; you are ${role}`);
  return role;
}

export function requireAuth(deps: CloudDeps): MiddlewareHandler<CloudEnv> {
  return async (c, next) => {
    c.set('user', await authenticateUser(deps, bearerOf(c)));
    await next();
  };
}

const OrgParam = z.object({ orgId: Uuid });

/** Needs `requireAuth` before it, and an `:orgId` in the route. */
export function requireRole(deps: CloudDeps, minimum: Role): MiddlewareHandler<CloudEnv> {
  return async (c, next) => {
    const { orgId } = readParams(c, OrgParam);
    c.set('role', assertRole(deps, c.get('user'), orgId, minimum));
    await next();
  };
}
