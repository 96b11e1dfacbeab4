/**
 * Reading a file the service acts on at first boot (the pairing-URI file, the registration file): a regular file
 * only (no link, no FIFO), size capped; anything else is a USAGE error saying what the file must be.
 */
import { lstatSync } from 'node:fs';
import { printable } from '../common/text/safe-text.js';
import { describeMode } from '../storage/accounts.js';
import { readRegularFile } from '../storage/index.js';
import { EdgeError } from './errors.js';
import type { EdgeRuntime } from './runtime.js';
import { recordPairingFileFailure } from './stores/pairing-file-failure.js';

/** The file's content, or undefined when there is none. */
export function readFirstBootFile(file: string, maxBytes: number, what: string, mustHold: string): string | undefined {
  try {
    return readRegularFile(file, maxBytes);
  } catch (error) {
    throw new EdgeError(
      'USAGE',
      `cannot use the ${what}: ${(error as Error).message}; it must be a regular file ${mustHold}`,
    );
  }
}

/**
 * Why a first-boot file holding a secret is exposed (every user may read it), or undefined. The group bits are
 * expected (0640, group consystence-edge, so the service can read it). Used, not refused (the pairing-URI file is
 * not refused either, and an installer's umask 022 is common): warned about.
 */
export function readableByOthers(file: string, holds: string): string | undefined {
  let mode: number;
  try {
    mode = lstatSync(file).mode;
  } catch {
    return undefined;
  }
  if ((mode & 0o007) === 0) return undefined;
  return `${file} (${describeMode(mode)}) can be read by every user of this device and holds ${holds}: chmod 600 ${file}, or delete it once the device is registered`;
}

/**
 * Runs the attempt made from such a file; a refusal is kept for `status` (the service exits here and the reason
 * would otherwise live only in the journal) and thrown.
 */
export async function keepingFailureForStatus<T>(runtime: EdgeRuntime, attempt: () => Promise<T>): Promise<T> {
  try {
    return await attempt();
  } catch (error) {
    if (error instanceof EdgeError)
      recordPairingFileFailure(runtime.state, {
        at: new Date(runtime.clock.now()).toISOString(),
        message: printable(error.message, 2000),
        cloudCode: error.cloudCode ?? null,
      });
    throw error;
  }
}
