/**
 * What the build scripts share: the two device architectures and their names in each tool, where outputs and
 * download caches live, and the package version. One table, so Bun's, Debian's and npm's spelling of "arm64"
 * can never drift apart between scripts.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');

export const ARCHES = {
  x64: { bunTarget: 'bun-linux-x64', debArch: 'amd64', npmRuntime: '@oven/bun-linux-x64', unameMachine: 'x86_64' },
  arm64: {
    bunTarget: 'bun-linux-arm64',
    debArch: 'arm64',
    npmRuntime: '@oven/bun-linux-aarch64',
    unameMachine: 'aarch64',
  },
} as const;
export type Arch = keyof typeof ARCHES;

export const binaryName = (arch: Arch): string => `consystence-edge-linux-${arch}`;
export const BUILD_INFO = 'build-info.json';

/** Downloads (the arm64 Bun runtime) are kept outside git and survive `rm -rf out`. */
export function cacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'consystence-edge');
}

export function packageVersion(): string {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version?: unknown };
  if (typeof version !== 'string' || !/^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/.test(version)) {
    throw new Error(`package.json has no usable semver version (got ${JSON.stringify(version)})`);
  }
  return version;
}

/** `--arch x64|arm64|all` → the list to build; anything else is a usage error. */
export function parseArches(value: string): Arch[] {
  if (value === 'all') return ['x64', 'arm64'];
  if (value in ARCHES) return [value as Arch];
  throw new UsageError(`--arch must be x64, arm64 or all (got ${JSON.stringify(value)})`);
}

/** The host's own architecture, when it is one we build for (binaries of it can run without qemu). */
export function hostArch(): Arch | undefined {
  return process.arch === 'x64' || process.arch === 'arm64' ? process.arch : undefined;
}

export class UsageError extends Error {}

/** SOURCE_DATE_EPOCH (reproducible builds) or now, as an ISO time to the second. */
export function sourceDateTime(env: NodeJS.ProcessEnv = process.env): string {
  const epoch = env.SOURCE_DATE_EPOCH;
  if (epoch === undefined || epoch === '') return new Date(Math.floor(Date.now() / 1000) * 1000).toISOString();
  if (!/^\d+$/.test(epoch))
    throw new UsageError(`SOURCE_DATE_EPOCH must be whole seconds since 1970 (got ${JSON.stringify(epoch)})`);
  return new Date(Number(epoch) * 1000).toISOString();
}

/**
 * Minimal `--name value` parser: every flag must be known and take a value, so a typo fails instead of being
 * silently ignored.
 */
export function parseFlags<K extends string>(
  argv: string[],
  defaults: Record<K, string>,
  usage: string,
): Record<K, string> {
  const flags = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]!);
    const name = match?.[1] as K | undefined;
    if (!match || !name || !(name in defaults))
      throw new UsageError(`unknown argument ${JSON.stringify(argv[i])}\n${usage}`);
    const value = match[2] ?? argv[++i];
    if (value === undefined || value === '') throw new UsageError(`--${name} needs a value\n${usage}`);
    flags[name] = value;
  }
  return flags;
}

/** Runs a script's main, printing usage errors and failures plainly and exiting non-zero. */
export function runMain(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    console.error(error instanceof UsageError ? `usage error: ${error.message}` : error);
    process.exit(error instanceof UsageError ? 2 : 1);
  });
}
