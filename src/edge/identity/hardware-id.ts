/**
 * hardwareId (CONTRACT §3): hex SHA-256 of the machine id. Rigs and containers share /etc/machine-id, so an
 * override exists (`--hardware-id` / CONSYSTENCE_EDGE_HARDWARE_ID): a 64-hex value is taken as is (lower-cased),
 * any other non-empty string is hashed, so a rig can pass a readable label like `rig-07`.
 */
import { createHash } from 'node:crypto';
import * as machineIdModule from 'node-machine-id';
import { EdgeError } from '../errors.js';

const HEX64 = /^[0-9a-fA-F]{64}$/;

export function hardwareIdFromOverride(value: string): string {
  const trimmed = value.trim();
  if (trimmed.length === 0 || trimmed.length > 256) {
    throw new EdgeError(
      'USAGE',
      'the hardware id override must be 1-256 characters (a 64-hex value is used as is, anything else is hashed)',
    );
  }
  return HEX64.test(trimmed) ? trimmed.toLowerCase() : createHash('sha256').update(trimmed).digest('hex');
}

export function resolveHardwareId(
  override: string | undefined,
  readMachineId: () => string = defaultMachineId,
): string {
  if (override !== undefined) return hardwareIdFromOverride(override);
  let machineId: string;
  try {
    machineId = readMachineId().trim();
  } catch (cause) {
    throw new EdgeError(
      'USAGE',
      'cannot read the machine id (/etc/machine-id); pass --hardware-id or set CONSYSTENCE_EDGE_HARDWARE_ID',
      { cause },
    );
  }
  if (!machineId)
    throw new EdgeError('USAGE', 'the machine id is empty; pass --hardware-id or set CONSYSTENCE_EDGE_HARDWARE_ID');
  return createHash('sha256').update(machineId).digest('hex');
}

/** node-machine-id is CommonJS: its functions sit on the namespace under Bun and on `default` under Node. */
function defaultMachineId(): string {
  const mod = machineIdModule as unknown as {
    machineIdSync?: (original: boolean) => string;
    default?: { machineIdSync: (original: boolean) => string };
  };
  const fn = mod.machineIdSync ?? mod.default?.machineIdSync;
  if (!fn) throw new Error('node-machine-id is not usable');
  return fn(true);
}
