/**
 * Global flags written before the command (`consystence-edge --state-dir DIR update status`), as git and systemctl
 * users write them. They are moved after the command's own arguments, where every command parses them; nothing
 * else may come before the command.
 */
import { GLOBAL_OPTIONS } from './common.js';

export type SplitArgv =
  /** The command name (undefined when only flags were given), then its arguments and the flags from before it. */
  { name: string | undefined; rest: string[] } | { error: string };

/** `--help`/`-h` are not moved: before a command they mean the general help, which main handles. */
const MOVABLE = new Set(['state-dir', 'log-level', 'hardware-id', 'json']);

export function splitLeadingFlags(argv: string[]): SplitArgv {
  const leading: string[] = [];
  let index = 0;
  while (index < argv.length) {
    const word = argv[index] as string;
    if (!word.startsWith('--')) break;
    const [flag, inline] = splitFlag(word.slice(2));
    if (!MOVABLE.has(flag)) break;
    const takesValue = GLOBAL_OPTIONS[flag as keyof typeof GLOBAL_OPTIONS].type === 'string';
    if (takesValue && inline === undefined) {
      const value = argv[index + 1];
      if (value === undefined) return { error: `--${flag} needs a value` };
      leading.push(word, value);
      index += 2;
    } else {
      leading.push(word);
      index += 1;
    }
  }
  const [name, ...rest] = argv.slice(index);
  return { name, rest: [...rest, ...leading] };
}

function splitFlag(text: string): [string, string | undefined] {
  const equals = text.indexOf('=');
  return equals === -1 ? [text, undefined] : [text.slice(0, equals), text.slice(equals + 1)];
}
