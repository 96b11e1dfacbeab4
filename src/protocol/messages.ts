/**
 * MQTT payloads (CONTRACT §4). Everything is JSON. Payloads that arrive from the other side are parsed with
 * these schemas; a failure becomes a rejection message, never a crash.
 */
import { z } from 'zod';
import { BufferConfig } from './cloud-api.js';
import { IsoDateTime, Version } from './common.js';
import { LogsConfig } from './diagnostics.js';
import { UpdateConfig } from './updates.js';

/** Payloads larger than this are refused by both sides before JSON parsing. */
export const MAX_PAYLOAD_BYTES = 256 * 1024;

/**
 * Config versions end here (a signed 32-bit integer, as most peers' config models use): far beyond any real
 * number of pushes, and far inside JavaScript's exact integers, so `version + 1` is always exact. A version that
 * went wrong is recovered with a reset push (`resetFrom`), never by counting past the bound.
 */
export const MAX_CONFIG_VERSION = 2 ** 31 - 1;
/** `seq` ends here (about 9,000 years at 1,000 envelopes a second): a runaway seq cannot wedge seq tracking. */
export const MAX_SEQ = 2 ** 48 - 1;
/** Any version an edge may hold, including one stored before the bound existed (used by `resetFrom`). */
const AnyStoredVersion = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const StatusOnline = z.object({
  state: z.literal('online'),
  version: Version,
  bootId: z.string().min(1).max(64),
  startedAt: IsoDateTime,
  ts: IsoDateTime,
});
export const StatusOffline = z.object({
  state: z.literal('offline'),
  reason: z.enum(['lost', 'shutdown', 'restart']),
  ts: IsoDateTime.optional(),
});
export const EdgeStatusMessage = z.discriminatedUnion('state', [StatusOnline, StatusOffline]);
export type EdgeStatusMessage = z.infer<typeof EdgeStatusMessage>;

export const QueueStats = z.object({
  depth: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  oldestTs: IsoDateTime.nullable(),
  dropped: z.number().int().nonnegative().optional(),
});
/** Which site endpoint and CAs the edge uses (issue 17): `trial` while it tries one the cloud just signed. */
export const HeartbeatSite = z.object({
  mqttUrl: z.string().max(2048),
  trial: z.boolean(),
  caFingerprints: z.array(z.string().max(64)).max(8),
});
export const Heartbeat = z.object({
  ts: IsoDateTime,
  uptimeS: z.number().nonnegative(),
  rssBytes: z.number().int().nonnegative(),
  queue: QueueStats,
  clockSkewMs: z.number().optional(),
  site: HeartbeatSite.optional(),
});
export type Heartbeat = z.infer<typeof Heartbeat>;

export const Quality = z.enum(['good', 'bad', 'uncertain']);
export const TelemetryRecord = z.strictObject({
  tag: z.string().min(1).max(256),
  ts: IsoDateTime,
  value: z.union([z.number(), z.string().max(4096), z.boolean(), z.null()]),
  quality: Quality.optional(),
});
export type TelemetryRecord = z.infer<typeof TelemetryRecord>;

/** Telemetry and events share one envelope and one `seq` counter per edge. */
export const DataEnvelope = z.object({
  seq: z.number().int().positive().max(MAX_SEQ),
  ts: IsoDateTime,
  historical: z.boolean(),
  records: z.array(TelemetryRecord).min(1).max(10_000),
});
export type DataEnvelope = z.infer<typeof DataEnvelope>;

/** The keys a config push may set. Each is optional: a push changes only what it names. */
export const RuntimeConfigPatch = z.strictObject({
  heartbeatSeconds: z.number().int().min(5).max(3600).optional(),
  buffer: BufferConfig.partial().strict().optional(),
  metricsSeconds: z.number().int().min(1).max(3600).optional(),
  logs: LogsConfig.partial().strict().optional(),
  update: UpdateConfig.partial().strict().optional(),
});
export type RuntimeConfigPatch = z.infer<typeof RuntimeConfigPatch>;

export const ConfigVersion = z.number().int().positive().max(MAX_CONFIG_VERSION);

/**
 * A config push. Applied when `version` is newer than the edge's; otherwise ignored (the edge re-reports what
 * runs). With `resetFrom`, the push is a reset: applied, whatever its version, only when `resetFrom` equals the
 * version the edge holds (a compare-and-set: a stale or replayed reset changes nothing). Only the site server
 * can publish to an edge's config topic (broker ACL), so the reset needs no further credential.
 */
export const ConfigPush = z.strictObject({
  version: ConfigVersion,
  config: RuntimeConfigPatch,
  resetFrom: AnyStoredVersion.optional(),
});
export type ConfigPush = z.infer<typeof ConfigPush>;

export const ConfigReported = z.object({
  version: AnyStoredVersion,
  status: z.enum(['applied', 'rejected']),
  error: z.string().max(2000).optional(),
  ts: IsoDateTime,
});
export type ConfigReported = z.infer<typeof ConfigReported>;

export const CommandNames = ['ping', 'resend-status', 'rotate-token', 'restart', 'doctor', 'support-bundle'] as const;
export const Command = z.object({
  id: z.string().min(1).max(128),
  name: z.string().min(1).max(64),
  args: z.record(z.string(), z.unknown()).optional(),
  expiresAt: IsoDateTime.optional(),
});
export type Command = z.infer<typeof Command>;

export const CommandErrorCodes = ['UNKNOWN_COMMAND', 'BAD_COMMAND', 'EXPIRED', 'FAILED'] as const;
export const CommandResult = z.union([
  z.object({ id: z.string(), ok: z.literal(true), result: z.unknown().optional() }),
  z.object({ id: z.string(), ok: z.literal(false), error: z.object({ code: z.string(), message: z.string() }) }),
]);
export type CommandResult = z.infer<typeof CommandResult>;

export const ServerStatus = z.object({ state: z.enum(['online', 'offline']), ts: IsoDateTime });
export type ServerStatus = z.infer<typeof ServerStatus>;

/**
 * Parses an MQTT payload as JSON and then against a schema, with the size cap first. Returns a result instead of
 * throwing so that callers can answer a bad payload (config rejected, BAD_COMMAND) without a try/catch maze.
 */
/**
 * A name from the network as it may be echoed in a reject reason, a log line and the config history:
 * percent-decoded, reduced to a safe charset, nothing JWT- or pairing-URI-shaped, and cut short. An unknown key
 * is cut to 15 characters, so that no 16-character slice of a device secret (the length the edge's scrubber
 * hunts for) is echoed; a path segment (a key the schema knows, or a record key) to 32.
 */
function echoableName(name: PropertyKey, maxChars: number): string {
  let text = String(name);
  try {
    text = decodeURIComponent(text);
  } catch {
    // Not valid percent-encoding: judged as written.
  }
  if (/eyJ|code=/i.test(text)) return '[redacted]';
  const safe = text.replace(/[^A-Za-z0-9_.-]/g, '?');
  return safe.length > maxChars ? `${safe.slice(0, maxChars)}…` : safe;
}

const MAX_NAMED_KEYS = 3;

/** Zod issues as one short, printable reason that never echoes unknown keys beyond a redacted excerpt. */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 10)
    .map((issue) => {
      const path = issue.path.map((segment) => echoableName(segment, 32)).join('.') || '(payload)';
      if (issue.code !== 'unrecognized_keys') return `${path}: ${issue.message.slice(0, 200)}`;
      const named = issue.keys
        .slice(0, MAX_NAMED_KEYS)
        .map((key) => echoableName(key, 15))
        .join(', ');
      const more = issue.keys.length > MAX_NAMED_KEYS ? ', …' : '';
      return `${path}: ${issue.keys.length} unknown key(s): ${named}${more}`;
    })
    .join('; ');
}

export function parsePayload<T extends z.ZodType>(
  schema: T,
  payload: Uint8Array | string,
): { ok: true; value: z.infer<T> } | { ok: false; error: string } {
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength;
  if (size > MAX_PAYLOAD_BYTES) return { ok: false, error: `payload of ${size} bytes exceeds ${MAX_PAYLOAD_BYTES}` };
  let json: unknown;
  try {
    json = JSON.parse(typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8'));
  } catch {
    return { ok: false, error: 'payload is not valid JSON' };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    return {
      ok: false,
      error: describeIssues(parsed.error.issues),
    };
  }
  return { ok: true, value: parsed.data };
}
