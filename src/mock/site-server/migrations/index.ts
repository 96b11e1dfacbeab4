/** The mock site server's migrations, listed statically (a compiled binary cannot discover files at run time). */
import type { Migration } from '../../../storage/db.js';
import { initial } from './0001-initial.js';

export const siteServerMigrations: readonly Migration[] = [initial];
