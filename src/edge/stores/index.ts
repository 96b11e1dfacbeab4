/** Opens the edge database and builds its stores: one object per table group, all on one connection. */
import { join } from 'node:path';
import { openDatabase, StorageError, type Db } from '../../storage/index.js';
import { edgeMigrations } from '../migrations/index.js';
import type { Logger } from '../../common/log/log.js';
import { EdgeError } from '../errors.js';
import { CommandStore } from './command-store.js';
import { ConfigStore } from './config-store.js';
import { IdentityStore } from './identity-store.js';
import { KvStore } from './kv-store.js';
import { PendingPairingStore } from './pending-pairing-store.js';
import { RegistrationStore } from './registration-store.js';
import { StatusStore } from './status-store.js';

/** Identity, credentials, config, commands and status: small, checked at every boot. */
export const IDENTITY_DB_FILE = 'edge.db';

/** Every store of the edge database, all on one connection. */
export interface EdgeStores {
  db: Db;
  identity: IdentityStore;
  pending: PendingPairingStore;
  registration: RegistrationStore;
  config: ConfigStore;
  commands: CommandStore;
  status: StatusStore;
  kv: KvStore;
  /** Set when a corrupt file was moved aside at open: the caller tells the technician. */
  recovered?: { movedTo: string; reason: string };
}

export function storesFor(db: Db): EdgeStores {
  return {
    db,
    identity: new IdentityStore(db),
    pending: new PendingPairingStore(db),
    registration: new RegistrationStore(db),
    config: new ConfigStore(db),
    commands: new CommandStore(db),
    status: new StatusStore(db),
    kv: new KvStore(db),
  };
}

/** Opens `<stateDir>/edge.db`; a corrupt file is moved aside and reported (the device must come back up). */
export async function openEdgeStores(stateDir: string, logger: Logger): Promise<EdgeStores> {
  try {
    const opened = await openDatabase({
      path: join(stateDir, IDENTITY_DB_FILE),
      migrations: edgeMigrations,
      synchronous: 'FULL',
    });
    const stores = storesFor(opened.db);
    if (opened.recovered) {
      logger.error('database_recovered', { movedTo: opened.recovered.movedTo, reason: opened.recovered.reason });
      return { ...stores, recovered: opened.recovered };
    }
    return stores;
  } catch (error) {
    if (error instanceof StorageError) {
      throw new EdgeError('STATE_DIR_UNUSABLE', error.message, { cause: error });
    }
    throw new EdgeError(
      'STATE_DIR_UNUSABLE',
      `cannot open the state database in ${stateDir}: ${(error as Error).message}; check the folder's owner and permissions, or pass --state-dir`,
      { cause: error },
    );
  }
}
