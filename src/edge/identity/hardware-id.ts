/**
 * hardwareId (CONTRACT §3): hex SHA-256 of the machine id. Rigs and containers share /etc/machine-id, so an
 * override exists (`--hardware-id` / CONSYSTENCE_EDGE_HARDWARE_ID): a 64-hex value is taken as is (lower-cased),
 * any other non-empty string is hashed, so a rig can pass a readable label like `rig-07`.
 *
 * node-machine-id falls back to the host name when neither machine-id file exists, and devices imaged with the
 * same default host name would then share one hardware id. That case is detected here (the two files are read
 * directly) and a random id, created once and kept in the state folder, is used instead; `doctor` warns about it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import * as machineIdModule from 'node-machine-id';
import { readRegularFile, writeFileAtomic } from '../../storage/index.js';
import { EdgeError } from '../errors.js';

const HEX64 = /^[0-9a-fA-F]{64}$/;
/** Where node-machine-id looks on Linux, in its order. */
export const MACHINE_ID_FILES = ['/var/lib/dbus/machine-id', '/etc/machine-id'] as const;
/** The random stand-in for a missing machine id, in the state folder. */
export const STATE_MACHINE_ID_FILE = 'machine-id';

export interface HardwareIdentity {
  /** 64 lower-case hex characters. */
  id: string;
  /** `state-dir`: no machine id on this system; the id is the random one kept in the state folder. */
  source: 'override' | 'machine-id' | 'state-dir';
  /** Read-only commands on a device that has no stored random id yet: the id shown is not the one `run` will use. */
  provisional?: true;
}

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

export interface HardwareIdOptions {
  stateDir: string;
  /** Status and doctor: never create the state-folder id. */
  readOnly?: boolean;
  machineIdFiles?: readonly string[];
  readMachineId?: () => string;
}

export function resolveHardwareId(override: string | undefined, options: HardwareIdOptions): HardwareIdentity {
  if (override !== undefined) return { id: hardwareIdFromOverride(override), source: 'override' };
  const files = options.machineIdFiles ?? MACHINE_ID_FILES;
  if (!files.some((file) => readMachineIdFile(file))) return stateDirHardwareId(options);
  let machineId: string;
  try {
    machineId = (options.readMachineId ?? defaultMachineId)().trim();
  } catch (cause) {
    throw new EdgeError(
      'USAGE',
      'cannot read the machine id (/etc/machine-id); pass --hardware-id or set CONSYSTENCE_EDGE_HARDWARE_ID',
      { cause },
    );
  }
  if (!machineId)
    throw new EdgeError('USAGE', 'the machine id is empty; pass --hardware-id or set CONSYSTENCE_EDGE_HARDWARE_ID');
  return { id: createHash('sha256').update(machineId).digest('hex'), source: 'machine-id' };
}

function readMachineIdFile(path: string): string {
  try {
    return readRegularFile(path, 4096)?.trim() ?? '';
  } catch {
    return '';
  }
}

/** The random id in the state folder, created on first use (never by a read-only command). */
function stateDirHardwareId(options: HardwareIdOptions): HardwareIdentity {
  const path = join(options.stateDir, STATE_MACHINE_ID_FILE);
  let stored: string | undefined;
  try {
    stored = readRegularFile(path, 4096)?.trim();
  } catch (cause) {
    throw new EdgeError('STATE_DIR_UNUSABLE', `cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  if (stored !== undefined) {
    if (HEX64.test(stored)) return { id: stored.toLowerCase(), source: 'state-dir' };
    throw new EdgeError(
      'STATE_DIR_UNUSABLE',
      `${path} does not hold a 64-hex id; restore it from a backup, or remove it to make a new one (the device must then be paired again)`,
    );
  }
  const fresh = randomBytes(32).toString('hex');
  if (options.readOnly) return { id: fresh, source: 'state-dir', provisional: true };
  writeFileAtomic(path, `${fresh}\n`);
  return { id: fresh, source: 'state-dir' };
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
