/**
 * Builds a mock cloud without a socket: opens the store (':memory:' or a file, one code path), applies the seed
 * to an empty store, loads or creates the signing key, and wires the app. `startMockCloud` adds the server.
 */
import type { Hono } from 'hono';
import { silentLogger, type Logger } from '../../common/log/log.js';
import { MAX_BUNDLE_BYTES, type TrustedReleaseKey } from '../../protocol/index.js';
import { openDatabase, type Db } from '../../storage/index.js';
import { cloudMigrations } from './migrations/index.js';
import { createApp } from './app.js';
import { Clock } from './clock.js';
import type { CloudEnv } from './context.js';
import { FaultPlan } from './faults.js';
import { jwksOf, loadOrCreateSigningKey } from './keys.js';
import { createLicenceSigner, readDevLicenceSigningJwk, type LicenceSigningJwk } from './licence-signing.js';
import { ReleaseBundles } from './release-bundles.js';
import { releaseTrust } from './release-trust.js';
import { DEFAULT_SEED, type Seed } from './seed.js';
import { generateControlToken } from '../../common/http/control-token.js';
import { findRelease } from './store/releases.js';
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
  /** Release keys trusted besides the built-in set (`--release-keys FILE`). */
  releaseKeys?: readonly TrustedReleaseKey[];
  /** A key-rotation document (compact JWS) sent with every campaign (`--release-rotation FILE`). */
  releaseRotation?: string;
  /** Tests only: a lower cap than `MAX_BUNDLE_BYTES` on uploaded bundles. */
  maxBundleBytes?: number;
}

export interface Cloud {
  app: Hono<CloudEnv>;
  controlToken: string;
  db: Db;
  clock: Clock;
  /** Where uploaded bundles are kept (`<db>.releases`, or a temporary directory removed on close). */
  releasesDir: string;
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
  let bundles: ReleaseBundles | undefined;
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
    bundles = await ReleaseBundles.open(options.dbPath, (id) => findRelease(db, id) !== undefined);
    const releases = {
      bundles,
      trust: await releaseTrust(db, clock.iso(), options.releaseKeys, options.releaseRotation),
      maxBundleBytes: options.maxBundleBytes ?? MAX_BUNDLE_BYTES,
    };
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
      releases,
    });
    const opened = bundles;
    return {
      app,
      controlToken,
      db,
      clock,
      releasesDir: opened.dir,
      close: () => {
        db.close();
        opened.close();
      },
    };
  } catch (error) {
    bundles?.close();
    db.close();
    throw error;
  }
}
