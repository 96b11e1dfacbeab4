/**
 * Builds a mock cloud without a socket: opens the store (':memory:' or a file, one code path), applies the seed
 * to an empty store, loads or creates the signing key, and wires the app. `startMockCloud` adds the server.
 */
import type { Hono } from 'hono';
import { silentLogger, type Logger } from '../../common/log/log.js';
import { openDatabase, type Db } from '../../storage/index.js';
import { cloudMigrations } from './migrations/index.js';
import { createApp } from './app.js';
import { Clock } from './clock.js';
import type { CloudEnv } from './context.js';
import { FaultPlan } from './faults.js';
import { jwksOf, loadOrCreateSigningKey } from './keys.js';
import { createLicenceSigner, readDevLicenceSigningJwk, type LicenceSigningJwk } from './licence-signing.js';
import { DEFAULT_SEED, type Seed } from './seed.js';
import { generateControlToken } from '../../common/http/control-token.js';
import { applySeed } from './store/seed.js';
import { DEFAULT_EDGE_TOKEN_TTL_SECONDS, TokenService } from './tokens.js';

export interface CloudOptions {
  publicUrl: string;
  dbPath?: string;
  seed?: Seed;
  logger?: Logger;
  edgeTokenTtlSeconds?: number;
  /** Bearer token for the rig's `/_mock/` routes; generated when absent. */
  controlToken?: string;
  /** Signs offline licence files; the committed development key when absent. */
  licenceSigningJwk?: LicenceSigningJwk | undefined;
}

export interface Cloud {
  app: Hono<CloudEnv>;
  controlToken: string;
  db: Db;
  clock: Clock;
  close(): void;
}

export async function createCloud(options: CloudOptions): Promise<Cloud> {
  const logger = options.logger ?? silentLogger;
  const clock = new Clock();
  // The mock's state is rebuildable, so NORMAL durability is enough (a lost last commit is a re-run of a rig step).
  const { db, recovered } = await openDatabase({
    path: options.dbPath ?? ':memory:',
    migrations: cloudMigrations,
    synchronous: 'NORMAL',
  });
  if (recovered) logger.warn('database_recovered', recovered);
  try {
    const seeded = applySeed(db, options.seed ?? DEFAULT_SEED, clock.iso());
    logger.info(seeded ? 'seed_applied' : 'seed_skipped_existing_state', { dbPath: options.dbPath ?? ':memory:' });
    const key = await loadOrCreateSigningKey(db, clock.iso());
    const publicUrl = options.publicUrl.replace(/\/+$/, '');
    const tokens = new TokenService(
      key,
      clock,
      publicUrl,
      options.edgeTokenTtlSeconds ?? DEFAULT_EDGE_TOKEN_TTL_SECONDS,
    );
    const faults = new FaultPlan(
      (offset) => clock.setOffset(offset),
      () => clock.offset,
    );
    const controlToken = options.controlToken ?? generateControlToken();
    const licenceSigner = await createLicenceSigner(options.licenceSigningJwk ?? readDevLicenceSigningJwk());
    const app = createApp({
      db,
      clock,
      tokens,
      faults,
      logger,
      jwks: jwksOf(key),
      publicUrl,
      controlToken,
      licenceSigner,
    });
    return { app, controlToken, db, clock, close: () => db.close() };
  } catch (error) {
    db.close();
    throw error;
  }
}
