/**
 * Reading a file the service acts on at first boot (the pairing-URI file, the registration file): a regular file
 * only (no link, no FIFO), size capped; anything else is a USAGE error saying what the file must be.
 */
import { readRegularFile } from '../storage/index.js';
import { EdgeError } from './errors.js';

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
