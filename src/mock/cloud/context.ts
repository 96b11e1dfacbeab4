/**
 * What every route and middleware receives: explicit dependencies (no module-level state), and the hono env
 * type carrying the authenticated principal and Node's raw request (needed to drop a connection on purpose).
 */
import type { HttpBindings } from '@hono/node-server';
import type { JSONWebKeySet } from 'jose';
import type { Role } from '../../protocol/index.js';
import type { Db } from '../../storage/index.js';
import type { Logger } from '../../common/log/log.js';
import type { Clock } from './clock.js';
import type { FaultPlan } from './faults.js';
import type { LicenceSigner } from './licence-signing.js';
import type { ReleaseBundles } from './release-bundles.js';
import type { ReleaseTrust } from './release-trust.js';
import type { TokenService } from './tokens.js';

export interface CloudDeps {
  db: Db;
  clock: Clock;
  tokens: TokenService;
  faults: FaultPlan;
  logger: Logger;
  jwks: JSONWebKeySet;
  /** The cloud's base URL as clients see it (no trailing slash): token issuer and assertion audience base. */
  publicUrl: string;
  /** Guards the rig's `/_mock/` routes (all but `/_mock/health`). */
  controlToken: string;
  /** Signs offline licence files (never tokens). */
  licenceSigner: LicenceSigner;
  /** Release uploads (issue 13): where bundles are kept, the keys they must be signed by, the size cap. */
  releases: { bundles: ReleaseBundles; trust: ReleaseTrust; maxBundleBytes: number };
}

export interface AuthUser {
  id: string;
  email: string;
  platformAdmin: boolean;
}

export type CloudEnv = {
  // Absent when the app is driven in process with `app.request()`.
  Bindings: Partial<HttpBindings>;
  Variables: { user: AuthUser; role: Role };
};
