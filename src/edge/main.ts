/**
 * `consystence-edge`: one entry, one subcommand per file. Human output on stdout, JSON-line logs on stderr,
 * documented exit codes (see errors.ts). Runs under Bun (`bun src/edge/main.ts`) and Node (bin.mjs via tsx).
 */
import { createInterface } from 'node:readline/promises';
import { EdgeError, ExitCodes } from './errors.js';
import { forbidCoreDumps } from './no-core-dumps.js';
import { HIL_FAULT, runWithHilFault } from './hil-faults.js';
import { StorageError } from '../storage/index.js';
import { createLogger } from '../common/log/log.js';
import type { CliIo, Subcommand } from './cli/common.js';
import { GLOBAL_USAGE } from './cli/common.js';
import { splitLeadingFlags } from './cli/leading-flags.js';
import { doctor } from './cli/doctor.js';
import { pair } from './cli/pair.js';
import { register } from './cli/register.js';
import { produce } from './cli/produce.js';
import { reset } from './cli/reset.js';
import { run } from './cli/run.js';
import { status } from './cli/status.js';
import { supportBundle } from './cli/support-bundle.js';
import { printable } from '../common/text/safe-text.js';
import { update } from './cli/update.js';
import { version } from './cli/version.js';
import { watch } from './cli/watch.js';

const COMMANDS: Record<string, Subcommand> = {
  pair,
  register,
  run,
  produce,
  status,
  doctor,
  'support-bundle': supportBundle,
  watch,
  reset,
  update,
  version,
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  return `usage: consystence-edge <command> [flags]\n\ncommands:\n${Object.entries(COMMANDS)
    .map(([name, c]) => `  ${name.padEnd(width)}  ${c.describe}`)
    .join(
      '\n',
    )}\n\n${GLOBAL_USAGE}\n\nexit codes: 0 ok, 1 internal error, 2 bad usage, 3 cloud refused, 4 cloud unreachable, 5 verification failed,\n            6 state dir unusable, 7 not paired or revoked, 8 doctor found a problem,\n            9 producer API unreachable (is the service running?), 10 restart requested,\n            75 restart into an installed update\n`;
}

export async function main(argv: string[], io: Omit<CliIo, 'argv'>): Promise<number> {
  const split = splitLeadingFlags(argv);
  if ('error' in split) {
    io.stderr(`consystence-edge: ${split.error}\n`);
    return ExitCodes.USAGE;
  }
  const { name, rest } = split;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    io.stdout(help());
    return name ? ExitCodes.OK : ExitCodes.USAGE;
  }
  if (name === '--version') return version.run({ ...io, argv: [] });
  const command = COMMANDS[name];
  if (!command) {
    // One line: the full help would bury the mistake.
    io.stderr(
      name.startsWith('-')
        ? `consystence-edge: '${printable(name, 40)}' is not a global flag; before the command only --state-dir, --log-level, --hardware-id and --json are accepted, the command's own flags go after it (consystence-edge --help)\n`
        : `consystence-edge: unknown command '${printable(name, 40)}'; commands: ${Object.keys(COMMANDS).join(', ')} (consystence-edge --help)\n`,
    );
    return ExitCodes.USAGE;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(`${command.describe}\n\nusage: ${command.usage}\n\n${GLOBAL_USAGE}\n`);
    return ExitCodes.OK;
  }
  if (HIL_FAULT && command === run) return runWithHilFault(HIL_FAULT, io.stderr);
  try {
    return await command.run({ ...io, argv: rest });
  } catch (error) {
    // A state file storage refused (unsafe, locked, full, read-only...) wherever it was opened: exit 6 with its message.
    if (error instanceof StorageError) {
      io.stderr(`consystence-edge ${name}: ${error.message}\n`);
      return ExitCodes.STATE_DIR_UNUSABLE;
    }
    if (error instanceof EdgeError) {
      io.stderr(
        `consystence-edge ${name}: ${printable(error.message, 2000)}\n${error.code === 'USAGE' ? `usage: ${command.usage}\n` : ''}`,
      );
      return error.exitCode;
    }
    io.stderr(`consystence-edge ${name}: unexpected error: ${printable(String((error as Error).message), 2000)}\n`);
    return ExitCodes.INTERNAL;
  }
}

const isEntry = (() => {
  const entry = process.argv[1] ?? '';
  return (
    /(^|[/\\])(main\.ts|bin\.mjs|consystence-edge)$/.test(entry) ||
    (globalThis as { Bun?: { main?: string } }).Bun?.main === import.meta.path
  );
})();

if (isEntry) {
  const io: Omit<CliIo, 'argv'> = {
    env: process.env,
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    stdinIsTty: process.stdin.isTTY === true,
    readStdin: async (maxBytes = 4096) => {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of process.stdin) {
        size += (chunk as Buffer).length;
        if (size > maxBytes) throw new EdgeError('USAGE', `stdin is longer than ${maxBytes} bytes`);
        chunks.push(chunk as Buffer);
      }
      return Buffer.concat(chunks).toString('utf8');
    },
    // The question goes to stderr, so `--json` output on stdout stays one JSON object per line.
    ask: async (question) => {
      const prompt = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return await prompt.question(question);
      } finally {
        prompt.close();
      }
    },
  };
  // Before any command reads the device key. A runtime that cannot guard itself still runs (the unit sets
  // LimitCORE=0) and says so.
  const unguarded = () => createLogger({ base: { component: 'edge' } }).warn('core_dumps_not_disabled', {});
  forbidCoreDumps()
    .then((guard) => guard.coreLimitZero || unguarded())
    .catch(unguarded)
    .then(() => main(process.argv.slice(2), io))
    .then(
      (code) => process.exit(code),
      (error: unknown) => {
        process.stderr.write(`consystence-edge: unexpected error: ${(error as Error).message}\n`);
        process.exit(ExitCodes.INTERNAL);
      },
    );
}
