/** doctor's row for the hardware id: a WARN when it is the random stand-in kept in the state folder. */
import { join } from 'node:path';
import { STATE_MACHINE_ID_FILE, type HardwareIdentity } from '../identity/hardware-id.js';
import type { CheckResult } from './doctor.js';

export function hardwareIdCheck(hardware: HardwareIdentity, stateDir: string): CheckResult {
  if (hardware.source !== 'state-dir') {
    return {
      name: 'hardware-id',
      level: 'ok',
      ok: true,
      detail: hardware.source === 'override' ? 'set by --hardware-id' : 'from the machine id',
    };
  }
  const where = join(stateDir, STATE_MACHINE_ID_FILE);
  return {
    name: 'hardware-id',
    level: 'warn',
    ok: true,
    detail: hardware.provisional
      ? `this system has no /etc/machine-id; the service will create a random id in ${where} on its first start`
      : `this system has no /etc/machine-id; using the random id kept in ${where} (it is lost with the state folder)`,
    fix: 'give the image a unique /etc/machine-id (systemd-machine-id-setup) or pass --hardware-id',
  };
}
