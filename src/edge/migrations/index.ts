/**
 * The edge's migrations, listed statically (a compiled binary cannot discover files at run time).
 * 1: identity, pairing, registration, config, commands, status (the runtime). 2: the outbox (store-and-forward).
 */
import type { Migration } from '../../storage/db.js';
import { edgeCore } from './0001-edge-core.js';
import { outboxMigration } from './0002-outbox.js';

export const edgeMigrations: readonly Migration[] = [edgeCore, outboxMigration];
