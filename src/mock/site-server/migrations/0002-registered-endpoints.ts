/**
 * Everything the site server registered (API URL, MQTT URL and CA bundle), so a restart under the same --db can
 * tell that its address, port or CA changed and register the change with the cloud (issue 17). Null in rows from
 * before: such a server registers its endpoints once more at its next start.
 */
import type { Migration } from '../../../storage/db.js';

export const registeredEndpoints: Migration = {
  version: 2,
  name: 'registered-endpoints',
  up: 'ALTER TABLE registration ADD COLUMN endpoints_json TEXT;',
};
