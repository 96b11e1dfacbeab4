/**
 * The mock cloud's public API, used by the demo, the HIL runner, the edge e2e tests and the site server:
 * start one in process, drive it with `MockCloudClient`, and name the default seed's organisation and users.
 */
import { startCloudServer, type MockCloudOptions } from './server.js';

export type { MockCloudOptions } from './server.js';
export { MockCloudClient, MockCloudError } from './client.js';
export {
  DEFAULT_SEED,
  DEMO_LICENCE_KEYS,
  DEMO_ORG_ID,
  DEMO_ORG_SLUG,
  DEMO_PASSWORD,
  DEMO_PLATFORM_ADMIN,
  DEMO_USERS,
  Seed,
} from './seed.js';
export type { FaultInput, FaultSpec, ArmedFaults } from './faults.js';

/** `controlToken` guards the rig's `/_mock/` routes: hand it to `MockCloudClient.setControlToken`. */
export async function startMockCloud(
  options: MockCloudOptions = {},
): Promise<{ url: string; controlToken: string; close(): Promise<void> }> {
  const { url, controlToken, close } = await startCloudServer(options);
  return { url, controlToken, close };
}
