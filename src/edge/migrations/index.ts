/**
 * The edge's migrations, listed statically (a compiled binary cannot discover files at run time).
 *
 * - `identityMigrations` (identity.db): identity, pairing, registration, config, commands, status; release keys,
 *   update jobs, their download retry schedule.
 * - `outboxMigrations` (outbox.db): the store-and-forward queue, numbered on from the single edge.db it replaces.
 * - `legacyEdgeMigrations` (edge.db before the split): both in one file; read, never created, by this build.
 */
import type { Migration } from '../../storage/db.js';
import { edgeCore } from './0001-edge-core.js';
import { outboxMigration } from './0002-outbox.js';
import { dropIdentityCopy, outboxBase, persistedTotals } from './0003-outbox-database.js';
import { releaseKeys } from './0004-release-keys.js';
import { updateJobs } from './0005-update-jobs.js';
import { updateDownloadRetry } from './0006-update-download-retry.js';

export const identityMigrations: readonly Migration[] = [edgeCore, releaseKeys, updateJobs, updateDownloadRetry];
export const outboxMigrations: readonly Migration[] = [outboxBase, outboxMigration, dropIdentityCopy, persistedTotals];
export const legacyEdgeMigrations: readonly Migration[] = [edgeCore, outboxMigration];
