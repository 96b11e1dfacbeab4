/**
 * `consystence-hil run` flags: parsed strictly with node:util (unknown flags are refused) and validated with
 * zod, so every mistake is reported before anything starts.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import { isRemoteHost } from '../targets/template.js';
import { TARGET_KINDS } from '../targets/types.js';

export const RUN_USAGE = `usage: consystence-hil run [--target local-node|local-bun|binary|qemu-arm64|remote] [--binary PATH]
    [--remote-cmd 'ssh -tt root@{host} consystence-edge {args}'] [--remote-host HOST] [--remote-state-dir DIR]
    [--power-cycle-cmd CMD] [--net-down-cmd CMD] [--net-up-cmd CMD] [--hook-timeout-s N]
    [--cloud-url URL] [--site-url URL] [--org ORG_ID] [--host ADDR] [--public-host NAME]
    [--only id,id] [--list] [--repeat N] [--junit FILE] [--json FILE] [--timeout-s N] [--keep] [--inject-failure ID]
With --site-url and --cloud-url, their control tokens are read from CONSYSTENCE_SITE_CONTROL_TOKEN and
CONSYSTENCE_CLOUD_CONTROL_TOKEN.`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const FLAGS = {
  target: { type: 'string' },
  binary: { type: 'string' },
  'remote-cmd': { type: 'string' },
  'remote-host': { type: 'string' },
  'remote-state-dir': { type: 'string' },
  'power-cycle-cmd': { type: 'string' },
  'net-down-cmd': { type: 'string' },
  'net-up-cmd': { type: 'string' },
  'hook-timeout-s': { type: 'string' },
  'cloud-url': { type: 'string' },
  'site-url': { type: 'string' },
  org: { type: 'string' },
  host: { type: 'string' },
  'public-host': { type: 'string' },
  only: { type: 'string' },
  list: { type: 'boolean' },
  repeat: { type: 'string' },
  junit: { type: 'string' },
  json: { type: 'string' },
  'timeout-s': { type: 'string' },
  keep: { type: 'boolean' },
  'inject-failure': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const HttpUrl = z
  .url({ protocol: /^https?$/ })
  .max(2048)
  .transform((u) => u.replace(/\/+$/, ''));
const Command = z.string().min(1).max(4096);

export const RunArgs = z
  .strictObject({
    target: z.enum(TARGET_KINDS).default('local-node'),
    binary: z.string().min(1).max(4096).optional(),
    remoteCmd: Command.refine((t) => t.includes('{args}'), 'the template must contain {args}').optional(),
    remoteHost: z
      .string()
      .min(1)
      .max(253)
      .refine(isRemoteHost, 'a host name or an IP address (it goes into a shell command)')
      .optional(),
    remoteStateDir: z
      .string()
      .regex(/^\/[A-Za-z0-9._/-]*$/, 'an absolute path of plain characters')
      .default('/tmp/consystence-hil'),
    powerCycleCmd: Command.optional(),
    netDownCmd: Command.optional(),
    netUpCmd: Command.optional(),
    hookTimeoutS: z.coerce.number().int().min(1).max(600).default(60),
    cloudUrl: HttpUrl.optional(),
    siteUrl: HttpUrl.optional(),
    org: z.uuid().optional(),
    host: z.string().min(1).max(253).default('127.0.0.1'),
    publicHost: z
      .string()
      .regex(/^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/, 'a host name or IPv4 address')
      .optional(),
    only: z
      .string()
      .max(4096)
      .transform((s) =>
        s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      )
      .optional(),
    list: z.boolean().default(false),
    repeat: z.coerce.number().int().min(1).max(1000).default(1),
    junit: z.string().min(1).optional(),
    json: z.string().min(1).optional(),
    timeoutS: z.coerce
      .number()
      .int()
      .min(1)
      .max(7 * 86_400)
      .default(3600),
    keep: z.boolean().default(false),
    injectFailure: z.string().min(1).max(64).optional(),
    help: z.boolean().default(false),
  })
  .superRefine((a, ctx) => {
    if (a.target === 'remote' && !a.remoteCmd)
      ctx.addIssue({ code: 'custom', path: ['remoteCmd'], message: '--target remote needs --remote-cmd' });
    if (a.target !== 'remote' && a.remoteCmd)
      ctx.addIssue({ code: 'custom', path: ['remoteCmd'], message: '--remote-cmd is only for --target remote' });
    if (a.binary && a.target !== 'binary' && a.target !== 'qemu-arm64')
      ctx.addIssue({ code: 'custom', path: ['binary'], message: '--binary is only for --target binary or qemu-arm64' });
    if (!!a.netDownCmd !== !!a.netUpCmd)
      ctx.addIssue({ code: 'custom', path: ['netDownCmd'], message: '--net-down-cmd and --net-up-cmd go together' });
    if (a.siteUrl && !a.cloudUrl)
      ctx.addIssue({
        code: 'custom',
        path: ['siteUrl'],
        message: '--site-url needs --cloud-url (the cloud that site server is registered with)',
      });
  });
export type RunArgs = z.infer<typeof RunArgs>;

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Strict node:util parsing (kebab-case flags), then `schema` on the camelCase values; every mistake is a UsageError. */
export function parseFlags<S extends z.ZodType>(
  argv: string[],
  flags: NonNullable<ParseArgsConfig['options']>,
  schema: S,
): z.output<S> {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({ args: argv, options: flags, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify.*$/s, ''));
  }
  const parsed = schema.safeParse(Object.fromEntries(Object.entries(values).map(([k, v]) => [camel(k), v])));
  if (!parsed.success)
    throw new UsageError(
      parsed.error.issues.map((i) => `--${kebab(String(i.path[0] ?? 'flags'))}: ${i.message}`).join('; '),
    );
  return parsed.data;
}

export function parseRunArgs(argv: string[]): RunArgs {
  return parseFlags(argv, FLAGS, RunArgs);
}
