/**
 * identity.db version 4: the retry schedule of a download that keeps failing (issue 13, a site link that is down for
 * hours). A transient failure keeps the job in `downloading`; these columns say when the next attempt is due
 * (`download_retry_at`, wall clock, so a restart in the wait neither hammers the server nor forgets the schedule),
 * how many attempts in a row failed (the backoff's exponent) and how long the device has waited in total (the give-up
 * budget, counted from the waits themselves so a clock that jumps at NTP time cannot end it early).
 */
import type { Migration } from '../../storage/db.js';

export const updateDownloadRetry: Migration = {
  version: 4,
  name: 'update-download-retry',
  up: `
    ALTER TABLE update_jobs ADD COLUMN download_retry_at TEXT;
    ALTER TABLE update_jobs ADD COLUMN download_failures INTEGER NOT NULL DEFAULT 0 CHECK (download_failures >= 0);
    ALTER TABLE update_jobs ADD COLUMN download_waited_ms INTEGER NOT NULL DEFAULT 0 CHECK (download_waited_ms >= 0);
  `,
};
