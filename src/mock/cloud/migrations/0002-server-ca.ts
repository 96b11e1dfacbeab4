/** The CA a site server registered (register-server `endpoints.caCertificatePem`), handed to edges at pairing. */
import type { Migration } from '../../../storage/db.js';

export const serverCa: Migration = {
  version: 2,
  name: 'server-ca',
  up: 'ALTER TABLE site_servers ADD COLUMN mqtt_ca_pem TEXT;',
};
