/**
 * `consystence-hil`: the hardware-in-the-loop rig runner. `run` drives a device under test through the
 * scenario suite against the mock cloud and mock site server; `fleet` simulates many edges against one site
 * server. Results on stdout, progress on stderr, exit codes in cli/exit-codes.ts.
 */
import { HilExit } from './cli/exit-codes.js';
import { fleetCommand } from './cli/fleet-command.js';
import { runCommand, type Io } from './cli/run-command.js';

const USAGE = `usage: consystence-hil <command> [flags]

commands:
  run     run the scenario suite against a device under test (--list shows the scenarios)
  fleet   simulate N edges against one mock site server and measure connect times and reconnect storms

'consystence-hil <command> --help' shows each command's flags.
exit codes: 0 all passed (skips allowed), 1 a scenario failed or errored, 2 bad usage, 3 the device cannot be started here`;

export async function main(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'run') return runCommand(rest, io);
  if (command === 'fleet') return fleetCommand(rest, io);
  if (command === '--help' || command === '-h' || command === 'help') {
    io.stdout(`${USAGE}\n`);
    return HilExit.OK;
  }
  io.stderr(`${command ? `consystence-hil: unknown command '${command.slice(0, 40)}'\n` : ''}${USAGE}\n`);
  return HilExit.USAGE;
}

const isEntry = /(^|[/\\])(main\.ts|bin\.mjs|consystence-hil)$/.test(process.argv[1] ?? '');
if (isEntry) {
  const io: Io = { stdout: (t) => void process.stdout.write(t), stderr: (t) => void process.stderr.write(t) };
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
      // In-process mocks may hold keep-alive sockets for a moment; the result is decided, so leave promptly.
      setTimeout(() => process.exit(code), 500).unref();
    },
    (error: unknown) => {
      process.stderr.write(`consystence-hil: unexpected error: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(HilExit.FAILED);
    },
  );
}
