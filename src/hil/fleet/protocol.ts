/**
 * The parent ↔ worker protocol of the sharded fleet: JSON lines, commands on the worker's stdin, replies and
 * progress on its stdout. JSON lines rather than Node's IPC channel so a worker can be Node or Bun alike, and
 * so the parent closing stdin is the worker's signal to leave (nothing outlives a parent that died).
 * Both sides parse what they receive with these schemas: a malformed line is an error, never a guess.
 */
import { z } from 'zod';

/** Sent once, first: which edges this worker owns and how to pair them. */
export const ShardInit = z.strictObject({
  worker: z.number().int().min(0),
  /** Global index of this worker's first edge (`fleet-<index>` edge ids are unique across workers). */
  firstIndex: z.number().int().min(0),
  count: z.number().int().min(1),
  runTag: z.string().min(1),
  root: z.string().min(1),
  cloudUrl: z.string().url(),
  orgId: z.string().min(1),
  siteId: z.string().min(1),
  /** The admin's access token: the worker creates its own pairing codes, so the parent is not a relay. */
  adminToken: z.string().min(1),
  pairConcurrency: z.number().int().min(1),
});
export type ShardInit = z.infer<typeof ShardInit>;

export const WorkerCommand = z.discriminatedUnion('cmd', [
  z.strictObject({ id: z.number().int(), cmd: z.literal('init'), init: ShardInit }),
  z.strictObject({ id: z.number().int(), cmd: z.literal('pair') }),
  z.strictObject({ id: z.number().int(), cmd: z.literal('start') }),
  z.strictObject({ id: z.number().int(), cmd: z.literal('waitOnline'), timeoutMs: z.number().int().min(1) }),
  z.strictObject({
    id: z.number().int(),
    cmd: z.literal('stream'),
    rate: z.number().min(0),
    durationS: z.number().min(0),
  }),
  z.strictObject({ id: z.number().int(), cmd: z.literal('markDown') }),
  z.strictObject({ id: z.number().int(), cmd: z.literal('waitOffline'), timeoutMs: z.number().int().min(1) }),
  z.strictObject({
    id: z.number().int(),
    cmd: z.literal('waitBack'),
    restartAt: z.number(),
    timeoutMs: z.number().int().min(1),
  }),
  z.strictObject({ id: z.number().int(), cmd: z.literal('memory') }),
]);
export type WorkerCommand = z.infer<typeof WorkerCommand>;
/** A command as the parent writes it (the id is added by the client). */
export type WorkerRequest = WorkerCommand extends infer C ? (C extends { id: number } ? Omit<C, 'id'> : never) : never;

export const WorkerMemory = z.object({
  rssMb: z.number(),
  rssPeakMb: z.number(),
  heapUsedMb: z.number(),
  /** Open file descriptors (Linux /proc/self/fd); null elsewhere. */
  fds: z.number().nullable(),
});
export type WorkerMemory = z.infer<typeof WorkerMemory>;

/** Replies, one schema per command: the parent checks the shape it relies on. */
export const Replies = {
  init: z.object({ pid: z.number(), runtime: z.string() }),
  pair: z.object({ paired: z.number(), failed: z.number(), durationMs: z.number(), errors: z.array(z.string()) }),
  start: z.object({ startedAt: z.number() }),
  /** `connectMs` per online edge (online time minus its own start), `allOnlineAt` null when someone is missing. */
  waitOnline: z.object({ online: z.number(), allOnlineAt: z.number().nullable(), connectMs: z.array(z.number()) }),
  stream: z.object({ enqueued: z.number(), failed: z.number(), durationMs: z.number(), errors: z.array(z.string()) }),
  markDown: z.object({ marked: z.number() }),
  waitOffline: z.object({ offline: z.number(), allOfflineAt: z.number().nullable() }),
  /** `attempts`: connect-attempt wall-clock times at or after `restartAt`; `backAt`: each returned edge's online time. */
  waitBack: z.object({
    back: z.number(),
    allBackAt: z.number().nullable(),
    attempts: z.array(z.number()),
    backAt: z.array(z.number()),
  }),
  memory: WorkerMemory,
} as const;
export type Reply<C extends keyof typeof Replies> = z.infer<(typeof Replies)[C]>;

export const WorkerLine = z.union([
  z.object({ id: z.number().int(), ok: z.literal(true), result: z.unknown() }),
  z.object({ id: z.number().int(), ok: z.literal(false), error: z.string() }),
  z.object({ event: z.literal('progress'), text: z.string() }),
]);
export type WorkerLine = z.infer<typeof WorkerLine>;
