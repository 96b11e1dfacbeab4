/** What a pairing code may register (issue 12 item 9): codes minted before this were all edge codes. */
import type { Migration } from '../../../storage/db.js';

export const codePurpose: Migration = {
  version: 3,
  name: 'code-purpose',
  up: "ALTER TABLE pairing_codes ADD COLUMN purpose TEXT NOT NULL DEFAULT 'edge';",
};
