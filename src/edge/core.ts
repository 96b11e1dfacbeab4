/**
 * What every part of a running edge is built from. The composition root (`runtime.ts`) creates it once and hands
 * it to pairing and to the session, so they share one database, one corrected clock and one logger.
 */
import type { EdgeClock } from './clock.js';
import type { FetchLike } from './cloud-client/http.js';
import type { Logger } from '../common/log/log.js';
import type { EdgeStores } from './stores/index.js';

export interface EdgeCore {
  state: EdgeStores;
  clock: EdgeClock;
  /** HTTP to the cloud (trusting the saved cloud CA, if any). */
  fetch: FetchLike;
  hardwareId: string;
  version: string;
  logger: Logger;
}
