/**
 * Opens the edge's two databases (see layout.ts) and builds the stores. Identity and credentials live in
 * identity.db, checked at every open; the outbox lives in outbox.db, of which only the header and schema are read
 * here, so opening costs the same with an empty queue and with a 1 GiB backlog. A damaged outbox is moved aside on
 * its own: the device keeps its identity, and the seq reservation in identity.db keeps seqs rising.
 */
import { openDatabase, StorageError, type Db, type OpenResult } from '../../storage/index.js';
import { identityMigrations, legacyEdgeMigrations, outboxMigrations } from '../migrations/index.js';
import type { Logger } from '../../common/log/log.js';
import { EdgeError } from '../errors.js';
import { CommandStore } from './command-store.js';
import { ConfigStore } from './config-store.js';
import { IdentityStore } from './identity-store.js';
import { KvStore } from './kv-store.js';
import { splitLegacyDatabase, stateFiles } from './layout.js';
import { PendingPairingStore } from './pending-pairing-store.js';
import { RegistrationStore } from './registration-store.js';
import { SiteEndpointStore } from './site-endpoint-store.js';
import { StatusStore } from './status-store.js';
import { ReleaseKeyStore } from '../update/trust/release-key-store.js';
import { stateTrustPolicy } from './trust.js';

export { IDENTITY_DB_FILE, LEGACY_DB_FILE, OUTBOX_DB_FILE } from './layout.js';

/** `PRAGMA application_id` of every edge database ("CSTE"): storage refuses a SQLite file without it. */
export const EDGE_APPLICATION_ID = 0x43535445;

/** An edge database from before the mark existed (or a split's copy): it has one of the tables our migrations make. */
const isUnmarkedEdgeDb = (db: Db): boolean =>
  db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name IN ('identity', 'outbox')").get() !== undefined;

type Recovered = NonNullable<OpenResult['recovered']>;

export interface EdgeStores {
  /** identity.db (before the split of an upgraded device: its edge.db). */
  db: Db;
  /** outbox.db (the same handle as `db` while an un-split edge.db holds both). */
  outboxDb: Db;
  /** The outbox is still in the edge.db of an earlier version: readable, but `run` must split it first. */
  outboxInLegacyFile: boolean;
  identity: IdentityStore;
  pending: PendingPairingStore;
  registration: RegistrationStore;
  config: ConfigStore;
  commands: CommandStore;
  status: StatusStore;
  kv: KvStore;
  /** A signed new site connection waiting to be tried, and the previous one kept as fallback (issue 17). */
  siteEndpoints: SiteEndpointStore;
  /** The release keys trusted for updates: built in, or the latest verified key-rotation document (issue 13). */
  releaseKeys: ReleaseKeyStore;
  /** Set when a damaged file was moved aside at open: the caller tells the technician. */
  recovered?: Recovered;
  /** Set when a damaged outbox was moved aside: the queue is lost, the identity is not. */
  outboxRecovered?: Recovered;
  /** Read-only opens: there is no database file yet; the stores read an empty in-memory one. */
  absent?: true;
}

export function storesFor(db: Db, outboxDb: Db = db): EdgeStores {
  const registration = new RegistrationStore(db);
  const kv = new KvStore(db);
  return {
    db,
    outboxDb,
    outboxInLegacyFile: false,
    identity: new IdentityStore(db),
    pending: new PendingPairingStore(db),
    registration,
    config: new ConfigStore(db),
    commands: new CommandStore(db),
    status: new StatusStore(db),
    kv,
    siteEndpoints: new SiteEndpointStore(db, kv, registration),
    releaseKeys: new ReleaseKeyStore(db),
  };
}

export interface OpenEdgeStoresOptions {
  /**
   * Split an earlier version's single edge.db now. Only for a caller holding the run lock (run, reset,
   * pair --force): two processes must never split at once. Others read whichever files the split has reached.
   */
  upgradeLayout?: boolean;
  /** status, doctor: nothing on disk is created, repaired or migrated; missing files read as an unpaired device. */
  readOnly?: boolean;
}

export async function openEdgeStores(
  stateDir: string,
  logger: Logger,
  options: OpenEdgeStoresOptions = {},
): Promise<EdgeStores> {
  let identity: OpenResult | undefined;
  try {
    if (options.upgradeLayout && (await splitLegacyDatabase(stateDir))) logger.info('state_split', { stateDir });
    const files = stateFiles(stateDir);
    const legacy = files.outboxInLegacyFile;
    identity = await openDatabase({
      path: files.identity,
      migrations: files.identity === files.outbox ? legacyEdgeMigrations : identityMigrations,
      synchronous: 'FULL',
      applicationId: EDGE_APPLICATION_ID,
      isLegacyFile: isUnmarkedEdgeDb,
      trust: stateTrustPolicy(),
      ...(options.readOnly ? { readOnly: true } : {}),
    });
    const outbox =
      files.identity === files.outbox
        ? { db: identity.db }
        : await openDatabase({
            path: files.outbox,
            migrations: legacy ? legacyEdgeMigrations : outboxMigrations,
            synchronous: 'FULL',
            // Only the header and schema (read by the migration step): quick_check reads the whole file.
            skipCheck: true,
            applicationId: EDGE_APPLICATION_ID,
            isLegacyFile: isUnmarkedEdgeDb,
            trust: stateTrustPolicy(),
            ...(options.readOnly ? { readOnly: true } : {}),
          });
    const state: EdgeStores = {
      ...storesFor(identity.db, outbox.db),
      outboxInLegacyFile: legacy,
      ...(identity.absent ? { absent: true as const } : {}),
    };
    if (identity.recovered) {
      logger.error('database_recovered', { file: files.identity, ...identity.recovered });
      state.recovered = identity.recovered;
    }
    if ('recovered' in outbox && outbox.recovered) {
      logger.error('outbox_recovered', { file: files.outbox, ...outbox.recovered });
      state.outboxRecovered = outbox.recovered;
    }
    return state;
  } catch (error) {
    identity?.db.close();
    if (error instanceof StorageError) {
      throw new EdgeError('STATE_DIR_UNUSABLE', error.message, { cause: error });
    }
    throw new EdgeError(
      'STATE_DIR_UNUSABLE',
      `cannot open the state databases in ${stateDir}: ${(error as Error).message}; check the folder's owner and permissions, or pass --state-dir`,
      { cause: error },
    );
  }
}

/** Closes both databases (once, when they are the same file). */
export function closeEdgeStores(state: EdgeStores): void {
  if (state.outboxDb !== state.db) state.outboxDb.close();
  state.db.close();
}
