/**
 * Secrets given to the edge CLI (a pairing URI, a pairing code) come from stdin, a file or the environment:
 * anything on a command line can be read by every local user in `ps` for as long as the command runs (a
 * retrying `pair` runs for minutes). The old flags keep working, with a warning.
 */
import { readSecretFile as readFile, SecretFileError } from '../../common/secret-file/secret-file.js';
import { EdgeError } from '../errors.js';

/** `pair` reads the pairing URI, or the code of the separate-flags form, from these when no flag gives it. */
export const PAIRING_URI_ENV = 'CONSYSTENCE_EDGE_PAIRING_URI';
export const PAIRING_CODE_ENV = 'CONSYSTENCE_EDGE_PAIRING_CODE';
/** `register` reads the licence key from this when no flag gives it. */
export const LICENCE_KEY_ENV = 'CONSYSTENCE_EDGE_LICENCE_KEY';

/** A secret file for the root CLI: never through a link, at most 4 KiB; a refusal is a usage error (exit 2). */
export function readSecretFile(path: string, flag: string): string {
  try {
    return readFile(path, flag);
  } catch (error) {
    if (error instanceof SecretFileError) throw new EdgeError('USAGE', error.message);
    throw error;
  }
}

/** What `pair` and `register` print when a secret was given on their command line anyway. */
export const visibleSecretWarning = (flag: string, safe: string, what = 'pairing code') =>
  `warning: the ${what} given with ${flag} is visible to every user of this device (ps) while this command runs; use ${safe} instead\n`;

const MAX_TYPED_SECRET = 4096;

/**
 * One line typed on the terminal, not echoed (as ssh and sudo ask for a password): `--licence-key -` on a terminal
 * would otherwise leave the key on the screen and in its scrollback. The prompt goes to stderr; Ctrl-C cancels.
 */
export function readHiddenLine(prompt: string): Promise<string> {
  const { stdin, stderr } = process;
  stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let line = '';
    const finish = (error?: EdgeError) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      stderr.write('\n');
      if (error) reject(error);
      else resolve(line);
    };
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n' || char === '\u0004') return finish();
        if (char === '\u0003') return finish(new EdgeError('USAGE', 'cancelled; nothing was sent'));
        line = char === '\u007f' || char === '\b' ? line.slice(0, -1) : line + char;
        if (line.length > MAX_TYPED_SECRET) return finish(new EdgeError('USAGE', 'the typed line is too long'));
      }
    };
    stdin.on('data', onData);
  });
}
