/**
 * `produce`'s flags, turned into a plan: which producer API to call, on which channel, and the records in
 * request-sized batches. Pure (no I/O) so every rule is unit-tested; the command in produce.ts only sends.
 *
 * Limits: `--count` ≤ 100 000 so a typo cannot fill a device's buffer; ≤ 500 records per request by default (the
 * daemon's group commit is sized for that) and always under the producer API's 1 MiB body limit.
 */
import { z } from 'zod';
import { TelemetryRecord } from '../../protocol/messages.js';
import { producerEndpoint } from '../data/producer-endpoint.js';
import { EdgeError } from '../errors.js';
import { MAX_PRODUCER_BODY_BYTES } from '../producer/schema.js';

export const MAX_COUNT = 100_000;
export const MAX_BATCH = 500;
/** `--records -` larger than this is refused before parsing: a stuck pipe or wrong file cannot exhaust memory. */
export const MAX_STDIN_BYTES = 16 * 1024 * 1024;
/** Under the server's limit, leaving room for `{"records":[…],"durable":true}` around the records. */
const MAX_REQUEST_BYTES = MAX_PRODUCER_BODY_BYTES - 1024;

export const PRODUCE_OPTIONS = {
  channel: { type: 'string' },
  tag: { type: 'string' },
  value: { type: 'string' },
  quality: { type: 'string' },
  ts: { type: 'string' },
  records: { type: 'string' },
  durable: { type: 'boolean' },
  count: { type: 'string' },
  batch: { type: 'string' },
  'producer-port': { type: 'string' },
  'producer-socket': { type: 'string' },
} as const;

export type ProducerTarget = { url: string } | { socketPath: string };
export type Channel = 'telemetry' | 'events';

export interface ProducePlan {
  target: ProducerTarget;
  /** Where the records go, as shown to the technician (`http://127.0.0.1:8719`, `unix:/run/…`). */
  address: string;
  channel: Channel;
  durable: boolean;
  batches: TelemetryRecord[][];
  total: number;
}

const Count = z.coerce.number().int().min(1).max(MAX_COUNT);
const Batch = z.coerce.number().int().min(1).max(MAX_BATCH);
const RecordsInput = z.array(TelemetryRecord).min(1).max(MAX_COUNT);

/** `--value` as typed on a shell: a JSON-style number, true/false, null, else the text itself. */
export function parseValue(text: string): TelemetryRecord['value'] {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (text === 'null') return null;
  // A strict number grammar: Number() would also take '', ' ', '0x1f' and 'Infinity', which a technician means as text.
  if (/^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) {
    const n = Number(text);
    if (Number.isFinite(n)) return n;
  }
  return text;
}

function usage(message: string): EdgeError {
  return new EdgeError('USAGE', message);
}

function issues(error: z.ZodError, prefix: string): string {
  return error.issues
    .slice(0, 5)
    .map(
      (i) =>
        `${prefix}${i.path.length ? i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('') : ''}: ${i.message}`,
    )
    .join('; ');
}

/** Where `produce` sends: the same flags and environment as `run`, but it must name a listening API. */
export function producerTarget(
  flags: { port?: string | undefined; socket?: string | undefined },
  env: NodeJS.ProcessEnv,
): { target: ProducerTarget; address: string } {
  const endpoint = producerEndpoint(flags, env);
  if (endpoint.kind === 'socket') return { target: { socketPath: endpoint.path }, address: `unix:${endpoint.path}` };
  if (endpoint.kind === 'off' || endpoint.port === 0) {
    throw usage(
      `--producer-port: give the port the service listens on (its 'started' line shows it), not '${endpoint.kind === 'off' ? 'off' : '0'}'`,
    );
  }
  const url = `http://127.0.0.1:${endpoint.port}`;
  return { target: { url }, address: url };
}

/** Splits records into requests of at most `max` records and under the server's body limit, in order. */
export function batchRecords(records: TelemetryRecord[], max: number): TelemetryRecord[][] {
  const batches: TelemetryRecord[][] = [];
  let current: TelemetryRecord[] = [];
  let bytes = 0;
  for (const record of records) {
    const size = Buffer.byteLength(JSON.stringify(record)) + 1;
    if (current.length && (current.length >= max || bytes + size > MAX_REQUEST_BYTES)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(record);
    bytes += size;
  }
  if (current.length) batches.push(current);
  return batches;
}

/** The single record from `--tag/--value/…`, repeated `count` times; a numeric value counts up (V, V+1, …). */
function singleRecords(values: Record<string, unknown>, count: number, now: () => Date): TelemetryRecord[] {
  if (values.tag === undefined || values.value === undefined)
    throw usage('give --tag and --value, or --records - (a JSON array on stdin)');
  // Validated with the same schema as the producer API, so a bad flag is a usage error here, not a 400 there.
  const parsed = TelemetryRecord.safeParse({
    tag: values.tag,
    ts: values.ts ?? now().toISOString(),
    value: parseValue(String(values.value)),
    ...(values.quality !== undefined ? { quality: values.quality } : {}),
  });
  if (!parsed.success) throw usage(parsed.error.issues.map((i) => `--${String(i.path[0])}: ${i.message}`).join('; '));
  const first = parsed.data;
  return Array.from({ length: count }, (_, i) =>
    typeof first.value === 'number' ? { ...first, value: first.value + i } : first,
  );
}

/** Parses `--records -` input: a JSON array of records, each validated like the producer API does. */
export function parseRecordsJson(text: string): TelemetryRecord[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw usage(
      `--records -: stdin is not JSON (${(error as Error).message.slice(0, 120)}); give an array like [{"tag":"t","ts":"2026-01-01T00:00:00Z","value":1}]`,
    );
  }
  const parsed = RecordsInput.safeParse(json);
  if (!parsed.success) throw usage(`--records -: ${issues(parsed.error, 'records')}`);
  return parsed.data;
}

/**
 * Everything `produce` needs, or a usage error that says what to change. `stdin` is read only for `--records -`
 * (so a technician's terminal is never waited on by mistake).
 */
export async function producePlan(
  values: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  readStdin: () => Promise<string>,
  now: () => Date = () => new Date(),
): Promise<ProducePlan> {
  const channel = values.channel ?? 'telemetry';
  if (channel !== 'telemetry' && channel !== 'events')
    throw usage(`--channel: telemetry or events, not '${String(channel).slice(0, 20)}'`);
  const count = Count.safeParse(values.count ?? '1');
  if (!count.success) throw usage(`--count: a whole number from 1 to ${MAX_COUNT}`);
  const batch = Batch.safeParse(values.batch ?? String(MAX_BATCH));
  if (!batch.success) throw usage(`--batch: records per request, 1 to ${MAX_BATCH}`);
  const { target, address } = producerTarget(
    { port: values['producer-port'] as string | undefined, socket: values['producer-socket'] as string | undefined },
    env,
  );

  let records: TelemetryRecord[];
  if (values.records !== undefined) {
    if (values.records !== '-') throw usage("--records: only '-' (a JSON array on stdin) is supported");
    const mixed = ['tag', 'value', 'quality', 'ts', 'count'].filter((k) => values[k] !== undefined);
    if (mixed.length) throw usage(`--records - cannot be combined with ${mixed.map((k) => `--${k}`).join(', ')}`);
    records = parseRecordsJson(await readStdin());
  } else {
    records = singleRecords(values, count.data, now);
  }
  return {
    target,
    address,
    channel,
    durable: values.durable === true,
    batches: batchRecords(records, batch.data),
    total: records.length,
  };
}
