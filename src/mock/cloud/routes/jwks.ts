/** `GET /.well-known/jwks.json`: the cloud's public signing key (never the private half), with `kid` and `alg`. */
import { Hono } from 'hono';
import type { CloudDeps, CloudEnv } from '../context.js';
import { CLOUD_ROUTES } from '../../../protocol/index.js';

export function jwksRoutes(deps: CloudDeps): Hono<CloudEnv> {
  return new Hono<CloudEnv>().get(CLOUD_ROUTES.jwks, (c) => {
    c.header('Cache-Control', 'public, max-age=300');
    return c.json(deps.jwks);
  });
}
