/** The mock cloud's migrations, listed statically (a compiled binary cannot discover files at run time). */
import type { Migration } from '../../../storage/db.js';
import { initial } from './0001-initial.js';
import { serverCa } from './0002-server-ca.js';
import { codePurpose } from './0003-code-purpose.js';
import { licences } from './0004-licences.js';
import { updates } from './0005-updates.js';
import { releaseRotation } from './0006-release-rotation.js';

export const cloudMigrations: readonly Migration[] = [
  initial,
  serverCa,
  codePurpose,
  licences,
  updates,
  releaseRotation,
];
