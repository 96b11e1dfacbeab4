/** The mock site server's migrations, listed statically (a compiled binary cannot discover files at run time). */
import type { Migration } from '../../../storage/db.js';
import { initial } from './0001-initial.js';
import { registeredEndpoints } from './0002-registered-endpoints.js';
import { edgeRegistration } from './0003-edge-registration.js';
import { updateCampaigns } from './0004-update-campaigns.js';

export const siteServerMigrations: readonly Migration[] = [
  initial,
  registeredEndpoints,
  edgeRegistration,
  updateCampaigns,
];
