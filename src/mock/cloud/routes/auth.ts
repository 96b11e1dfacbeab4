/** `POST /api/auth/login`: seeded users get a 1 h access token with the contract's claims. */
import { randomBytes } from 'node:crypto';
import { Hono } from 'hono';
import { LoginRequest, type LoginResponse, CLOUD_ROUTES } from '../../../protocol/index.js';
import type { CloudDeps, CloudEnv } from '../context.js';
import { HttpError } from '../../../common/http/http-error.js';
import { readJson } from '../middleware/body.js';
import { UNMATCHABLE_HASH, verifyPassword } from '../passwords.js';
import { ACCESS_TOKEN_TTL_SECONDS } from '../tokens.js';
import { findUserByEmail, membershipsOf } from '../store/users.js';

export function authRoutes(deps: CloudDeps): Hono<CloudEnv> {
  return new Hono<CloudEnv>().post(CLOUD_ROUTES.login, async (c) => {
    const { email, password } = await readJson(c, LoginRequest);
    const user = findUserByEmail(deps.db, email);
    // Unknown emails are checked against a dummy hash so both failures take the same time.
    const ok = await verifyPassword(password, user?.passwordHash ?? UNMATCHABLE_HASH);
    if (!user || !ok) {
      deps.logger.info('login_refused', { email });
      throw new HttpError(401, 'INVALID_CREDENTIALS', 'wrong email or password');
    }
    const orgs = membershipsOf(deps.db, user.id).map((m) => ({ id: m.orgId, slug: m.slug, role: m.role }));
    const primary = orgs[0];
    const accessToken = await deps.tokens.signAccessToken({
      sub: user.id,
      email: user.email,
      org: primary?.id ?? null,
      org_slug: primary?.slug ?? null,
      org_role: primary?.role ?? null,
      orgs,
      platform_admin: user.platformAdmin,
    });
    // The mock has no refresh route: the refresh token is opaque and only shaped like the real one.
    const body: LoginResponse = {
      accessToken,
      refreshToken: randomBytes(32).toString('base64url'),
      expiresIn: ACCESS_TOKEN_TTL_SECONDS,
      tokenType: 'Bearer',
    };
    deps.logger.info('login', { userId: user.id });
    return c.json(body);
  });
}
