/** Every scenario, in the order a run goes through them (cheap pairing checks first, long ones last). */
import type { Scenario } from '../scenario-kit/types.js';
import { airGappedRegistration } from './air-gapped-registration.js';
import { brokerDown } from './broker-down.js';
import { caRotation } from './ca-rotation.js';
import { clockInPast } from './clock-in-past.js';
import { cloud503Storm } from './cloud-503-storm.js';
import { commandRoundTrip } from './command-round-trip.js';
import { configPush } from './config-push.js';
import { diagnostics } from './diagnostics.js';
import { expiredCode } from './expired-code.js';
import { firstPairing } from './first-pairing.js';
import { lostRegisterResponse } from './lost-register-response.js';
import { networkPartition } from './network-partition.js';
import { otaBadSignature } from './ota-bad-signature.js';
import { otaDiskFull } from './ota-disk-full.js';
import { otaInterruptedDownload } from './ota-interrupted-download.js';
import { otaPowerCut } from './ota-power-cut.js';
import { otaRollback } from './ota-rollback.js';
import { otaUpdate } from './ota-update.js';
import { otaWrongArch } from './ota-wrong-arch.js';
import { powerCut } from './power-cut.js';
import { revocation } from './revocation.js';
import { siteRegistration } from './site-registration.js';
import { siteServerReplaced } from './site-server-replaced.js';
import { tokenExpiryOffline } from './token-expiry-offline.js';
import { usedCode } from './used-code.js';

export const SCENARIOS: readonly Scenario[] = [
  firstPairing,
  usedCode,
  expiredCode,
  lostRegisterResponse,
  siteRegistration,
  airGappedRegistration,
  cloud503Storm,
  configPush,
  commandRoundTrip,
  diagnostics,
  brokerDown,
  powerCut,
  revocation,
  siteServerReplaced,
  caRotation,
  clockInPast,
  networkPartition,
  tokenExpiryOffline,
  otaBadSignature,
  otaWrongArch,
  otaDiskFull,
  otaUpdate,
  otaInterruptedDownload,
  otaPowerCut,
  otaRollback,
];
