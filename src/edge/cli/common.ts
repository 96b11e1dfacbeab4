/**
 * What every subcommand shares: the global flags and environment (validated with zod), the logger, and opening
 * the runtime. Flags win over the environment, which wins over the defaults.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import { createLogger, type Logger, type LogLevel } from '../../common/log/log.js';
import { EdgeError } from '../errors.js';
import { createEdgeRuntime, type EdgeRuntime, type EdgeRuntimeOptions } from '../runtime.js';

export const DEFAULT_STATE_DIR = '/var/lib/consystence-edge';
export const DEFAULT_PAIRING_URI_FILE = '/etc/consystence-edge/pairing-uri';

export interface CliIo {
  argv: string[];
  env: NodeJS.ProcessEnv;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  stdinIsTty: boolean;
  /** All of stdin as UTF-8; a usage error past `maxBytes` (default 4096, a pairing URI). */
  readStdin: (maxBytes?: number) => Promise<string>;
  /** Asks one question on the terminal and returns the line typed (absent where there is no terminal). */
  ask?: (question: string) => Promise<string>;
}

export interface Subcommand {
  describe: string;
  usage: string;
  run(io: CliIo): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

export const GLOBAL_OPTIONS = {
  'state-dir': { type: 'string' },
  'log-level': { type: 'string' },
  'hardware-id': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

export const GLOBAL_USAGE = `global flags:
  --state-dir DIR      where identity.db and outbox.db live (env CONSYSTENCE_EDGE_STATE_DIR, default ${DEFAULT_STATE_DIR})
  --hardware-id ID     override the machine id (env CONSYSTENCE_EDGE_HARDWARE_ID); 64 hex is used as is, else hashed
  --log-level LEVEL    debug|info|warn|error, JSON lines on stderr (env CONSYSTENCE_EDGE_LOG_LEVEL, default info)
  --json               machine-readable output on stdout
  -h, --help           this help`;

const Common = z.object({
  stateDir: z.string().min(1).max(4096),
  logLevel: z.enum(['debug', 'info', 'warn', 'error']),
  hardwareId: z.string().min(1).max(256).optional(),
  json: z.boolean(),
});
export type CommonSettings = z.infer<typeof Common>;

/** Parses flags strictly: an unknown flag or a stray argument is a usage error, never ignored. */
export function parseFlags<O extends Options>(
  argv: string[],
  options: O,
): ReturnType<
  typeof parseArgs<{ options: O & typeof GLOBAL_OPTIONS; strict: true; allowPositionals: false }>
>['values'] {
  try {
    return parseArgs({ args: argv, options: { ...GLOBAL_OPTIONS, ...options }, strict: true, allowPositionals: false })
      .values as never;
  } catch (error) {
    throw new EdgeError('USAGE', (error as Error).message.replace(/\. To specify.*$/s, ''));
  }
}

export function commonSettings(values: Record<string, unknown>, env: NodeJS.ProcessEnv): CommonSettings {
  const parsed = Common.safeParse({
    stateDir: values['state-dir'] ?? env.CONSYSTENCE_EDGE_STATE_DIR ?? DEFAULT_STATE_DIR,
    logLevel: values['log-level'] ?? env.CONSYSTENCE_EDGE_LOG_LEVEL ?? 'info',
    hardwareId: values['hardware-id'] ?? (env.CONSYSTENCE_EDGE_HARDWARE_ID || undefined),
    json: values.json ?? false,
  });
  if (!parsed.success) {
    throw new EdgeError(
      'USAGE',
      parsed.error.issues.map((i) => `${flagName(String(i.path[0]))}: ${i.message}`).join('; '),
    );
  }
  return parsed.data;
}

function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Where the service looks for a pre-seeded pairing URI: the flag, else the environment, else the default. */
export function pairingUriFile(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return flag ?? (env.CONSYSTENCE_EDGE_PAIRING_URI_FILE || DEFAULT_PAIRING_URI_FILE);
}

export function loggerFor(settings: CommonSettings, io: CliIo, component: string): Logger {
  return createLogger({ level: settings.logLevel as LogLevel, base: { component }, write: io.stderr });
}

/** Opens the runtime; a damaged database that was moved aside is told to the technician on stderr. */
export async function openRuntime(
  settings: CommonSettings,
  logger: Logger,
  io: Pick<CliIo, 'stderr'>,
  extra: Partial<EdgeRuntimeOptions> = {},
): Promise<EdgeRuntime> {
  const runtime = await createEdgeRuntime({
    stateDir: settings.stateDir,
    logger,
    ...(settings.hardwareId ? { hardwareId: settings.hardwareId } : {}),
    ...extra,
  });
  if (runtime.state.recovered) {
    io.stderr(
      `warning: the state database was damaged (${runtime.state.recovered.reason.slice(0, 200)}) and was moved to ${runtime.state.recovered.movedTo}; this device starts unpaired and must be paired again\n`,
    );
  }
  return runtime;
}
