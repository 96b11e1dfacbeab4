/**
 * The CLI's flags, parsed with node:util and validated with zod. Files named by flags are read here, so a bad
 * path or a bad seed is reported as a usage error before anything starts.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { detailsFromZod } from '../../protocol/index.js';
import type { MockCloudOptions } from './server.js';
import { LicenceSigningJwk } from './licence-signing.js';
import { ReleaseKeySetFile } from './release-trust.js';
import { Seed } from './seed.js';

export const USAGE = `usage: consystence-mock-cloud [--host 127.0.0.1] [--port 0] [--db FILE] [--seed FILE]
                             [--public-url URL] [--tls-cert FILE --tls-key FILE] [--edge-token-ttl SECONDS]
                             [--control-token-file FILE] [--licence-key-file FILE]
                             [--release-keys FILE] [--release-rotation FILE]
                             [--test-min-edge-token-ttl SECONDS]
The /_mock/ routes need "Authorization: Bearer <token>": the file's first line, else CONSYSTENCE_CLOUD_CONTROL_TOKEN,
else a generated token printed in the ready line as "controlToken".`;

/**
 * The shortest edge token lifetime `--edge-token-ttl` accepts. Tests that wait for a token's refresh or expiry
 * lower it with `--test-min-edge-token-ttl` (test-only; never used by a rig or a demo) instead of sleeping a minute.
 */
const MIN_EDGE_TOKEN_TTL_SECONDS = 60;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const Flags = z
  .strictObject({
    host: z.string().min(1).max(255).default('127.0.0.1'),
    port: z.coerce.number().int().min(0).max(65_535).default(0),
    db: z.string().min(1).optional(),
    seed: z.string().min(1).optional(),
    'public-url': z.url({ protocol: /^https?$/ }).optional(),
    'tls-cert': z.string().min(1).optional(),
    'tls-key': z.string().min(1).optional(),
    'edge-token-ttl': z.coerce
      .number()
      .int()
      .max(365 * 86_400)
      .optional(),
    'control-token-file': z.string().min(1).optional(),
    'licence-key-file': z.string().min(1).optional(),
    'release-keys': z.string().min(1).optional(),
    'release-rotation': z.string().min(1).optional(),
    'test-min-edge-token-ttl': z.coerce.number().int().min(1).max(MIN_EDGE_TOKEN_TTL_SECONDS).optional(),
  })
  .refine(
    (f) =>
      f['edge-token-ttl'] === undefined ||
      f['edge-token-ttl'] >= (f['test-min-edge-token-ttl'] ?? MIN_EDGE_TOKEN_TTL_SECONDS),
    {
      message: `at least ${MIN_EDGE_TOKEN_TTL_SECONDS} seconds (or --test-min-edge-token-ttl, for tests)`,
      path: ['edge-token-ttl'],
    },
  )
  .refine((f) => (f['tls-cert'] === undefined) === (f['tls-key'] === undefined), {
    message: '--tls-cert and --tls-key go together',
    path: ['tls-cert'],
  });

function readFlagFile(flag: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(
      `--${flag} ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
}

/** A JSON file named by a flag, validated by `schema`. */
function readJsonFlagFile<T extends z.ZodType>(flag: string, path: string, schema: T): z.infer<T> {
  let json: unknown;
  try {
    json = JSON.parse(readFlagFile(flag, path));
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`--${flag} ${path}: not JSON`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success)
    throw new UsageError(
      `--${flag} ${path}: ${detailsFromZod(parsed.error)
        .map((d) => `${d.field}: ${d.message}`)
        .join('; ')}`,
    );
  return parsed.data;
}

/** The private key that signs offline licence files; the message never echoes the file (it is a secret). */
function readLicenceSigningJwk(path: string): LicenceSigningJwk {
  let json: unknown;
  try {
    json = JSON.parse(readFlagFile('licence-key-file', path));
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`--licence-key-file ${path}: not JSON`);
  }
  const jwk = LicenceSigningJwk.safeParse(json);
  if (!jwk.success)
    throw new UsageError(
      `--licence-key-file ${path}: not a private EC P-256 JWK with a kid (${jwk.error.issues.map((i) => i.path.join('.') || '(file)').join(', ')})`,
    );
  return jwk.data;
}

/** The control token: the file's first line (so `echo … > file` works), else the environment; 16+ characters. */
function controlToken(path: string | undefined, env: NodeJS.ProcessEnv): { controlToken?: string } {
  const token =
    path === undefined
      ? env.CONSYSTENCE_CLOUD_CONTROL_TOKEN
      : readFlagFile('control-token-file', path).split('\n')[0]!.trim();
  if (token === undefined) return {};
  if (token.length < 16)
    throw new UsageError(
      `${path === undefined ? 'CONSYSTENCE_CLOUD_CONTROL_TOKEN' : `--control-token-file ${path}`}: the token must be at least 16 characters`,
    );
  return { controlToken: token };
}

export function parseCliArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): Omit<MockCloudOptions, 'logger'> {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(
        [
          'host',
          'port',
          'db',
          'seed',
          'public-url',
          'tls-cert',
          'tls-key',
          'edge-token-ttl',
          'control-token-file',
          'licence-key-file',
          'release-keys',
          'release-rotation',
          'test-min-edge-token-ttl',
        ].map((name) => [name, { type: 'string' }]),
      ) as Record<string, { type: 'string' }>,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const flags = Flags.safeParse(values);
  if (!flags.success)
    throw new UsageError(
      detailsFromZod(flags.error)
        .map((d) => `--${d.field}: ${d.message}`)
        .join('; '),
    );
  const f = flags.data;
  return {
    host: f.host,
    port: f.port,
    ...(f.db ? { dbPath: f.db } : {}),
    ...(f.seed ? { seed: readJsonFlagFile('seed', f.seed, Seed) } : {}),
    ...(f['release-keys']
      ? { releaseKeys: readJsonFlagFile('release-keys', f['release-keys'], ReleaseKeySetFile).keys }
      : {}),
    ...(f['public-url'] ? { publicUrl: f['public-url'] } : {}),
    ...(f['tls-cert'] && f['tls-key']
      ? { tls: { cert: readFlagFile('tls-cert', f['tls-cert']), key: readFlagFile('tls-key', f['tls-key']) } }
      : {}),
    ...(f['edge-token-ttl'] ? { edgeTokenTtlSeconds: f['edge-token-ttl'] } : {}),
    ...(f['release-rotation']
      ? { releaseRotation: readFlagFile('release-rotation', f['release-rotation']).trim() }
      : {}),
    ...controlToken(f['control-token-file'], env),
    ...(f['licence-key-file'] ? { licenceSigningJwk: readLicenceSigningJwk(f['licence-key-file']) } : {}),
  };
}
