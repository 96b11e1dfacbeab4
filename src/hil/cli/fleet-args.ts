/** `consystence-hil fleet` flags (node:util parseArgs, strict, then zod). */
import { z } from 'zod';
import { parseFlags } from './run-args.js';

/**
 * Default shard size. Each edge holds ~4 file descriptors (MQTT socket, SQLite db/wal/shm) and a process may
 * open 20 000 on the build machine, so 3 000 edges (~12 000 fds) per worker leaves room for the rest.
 */
export const EDGES_PER_WORKER = 3000;

export const FLEET_USAGE = `usage: consystence-hil fleet --devices N [--rate MSG_PER_S] [--duration-s S] [--restart-broker] [--down-s S]
    [--workers N] [--worker-runtime node|bun] [--pair-concurrency N] [--settle-timeout-s S] [--timeout-s S] [--json FILE]
    [--junit FILE]
  --rate is the total telemetry rate of the whole fleet (messages per second, spread over the edges).
  --workers: edge-hosting processes (default: one per ${EDGES_PER_WORKER} edges); --timeout-s bounds the whole run.`;

const FLAGS = {
  devices: { type: 'string' },
  rate: { type: 'string' },
  'duration-s': { type: 'string' },
  'restart-broker': { type: 'boolean' },
  'down-s': { type: 'string' },
  'pair-concurrency': { type: 'string' },
  'settle-timeout-s': { type: 'string' },
  json: { type: 'string' },
  junit: { type: 'string' },
  workers: { type: 'string' },
  'worker-runtime': { type: 'string' },
  'timeout-s': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const FleetArgs = z
  .strictObject({
    devices: z.coerce.number().int().min(1).max(20_000).optional(),
    rate: z.coerce.number().min(0).max(1_000_000).default(10),
    durationS: z.coerce.number().min(1).max(86_400).default(10),
    restartBroker: z.boolean().default(false),
    downS: z.coerce.number().min(0).max(600).default(3),
    pairConcurrency: z.coerce.number().int().min(1).max(256).default(8),
    /** Upper bound for "everyone connected" after start and after a broker restart. */
    settleTimeoutS: z.coerce.number().int().min(5).max(3600).default(180),
    /** Default: enough workers that none holds more than EDGES_PER_WORKER edges (filled in by `parseFleetArgs`). */
    workers: z.coerce.number().int().min(1).max(64).optional(),
    /** Bun by default: measured lighter per edge (≈410 KB against ≈480 KB under Node at 2 000 edges) and faster to connect. */
    workerRuntime: z.enum(['node', 'bun']).default('bun'),
    /** The whole run, every phase included; past it the run is stopped and every process cleaned up. */
    timeoutS: z.coerce.number().int().min(10).max(86_400).default(3600),
    json: z.string().min(1).optional(),
    /** JUnit XML: one testcase per target (met or missed), or one error when the run could not finish. */
    junit: z.string().min(1).optional(),
    help: z.boolean().default(false),
  })
  .superRefine((a, ctx) => {
    if (!a.help && a.devices === undefined)
      ctx.addIssue({ code: 'custom', path: ['devices'], message: 'required (how many edges to simulate)' });
    if (a.devices !== undefined && a.workers !== undefined && a.workers > a.devices)
      ctx.addIssue({
        code: 'custom',
        path: ['workers'],
        message: `at most --devices (${a.devices}): a worker needs at least one edge`,
      });
  });
export type FleetArgs = z.infer<typeof FleetArgs> & { workers: number };

export function parseFleetArgs(argv: string[]): FleetArgs {
  const data = parseFlags(argv, FLAGS, FleetArgs);
  return { ...data, workers: data.workers ?? Math.max(1, Math.ceil((data.devices ?? 1) / EDGES_PER_WORKER)) };
}
