/**
 * One line per MQTT message for `consystence-edge watch`: time, direction, topic, size and a short summary of
 * the payload. Secrets never appear: the payload is redacted by field name (the log redactor), and the summary
 * is scrubbed of anything shaped like a token, key or pairing code and of the device's own secrets (any slice).
 */
import { redact } from '../../common/log/log.js';
import { scrub } from './secrets.js';

export interface TrafficLine {
  ts: string;
  direction: 'out' | 'in';
  topic: string;
  bytes: number;
  summary: string;
}

const SUMMARY_CHARS = 160;

function summarise(payload: Buffer): string {
  if (payload.length === 0) return '(empty)';
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    return `(${payload.length} bytes, not JSON)`;
  }
  const envelope = value as { seq?: unknown; records?: unknown; historical?: unknown };
  if (typeof envelope?.seq === 'number' && Array.isArray(envelope.records)) {
    const first = envelope.records[0] as { tag?: unknown; value?: unknown } | undefined;
    const sample = first
      ? ` ${String(first.tag).slice(0, 64)}=${JSON.stringify(redact(first.value)).slice(0, 40)}`
      : '';
    return `seq ${envelope.seq}, ${envelope.records.length} record(s)${envelope.historical ? ', historical' : ''}${sample}`;
  }
  const text = JSON.stringify(redact(value));
  return text.length > SUMMARY_CHARS ? `${text.slice(0, SUMMARY_CHARS - 1)}…` : text;
}

export function trafficLine(
  direction: 'out' | 'in',
  topic: string,
  payload: string | Buffer,
  at = new Date(),
  /** The device's own secrets (secretVariants), scrubbed from the summary in any slice. */
  secrets: readonly string[] = [],
): TrafficLine {
  const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
  return { ts: at.toISOString(), direction, topic, bytes: bytes.length, summary: scrub(summarise(bytes), secrets) };
}

/** `12:03:04.567 → …/edges/orin-1/heartbeat  184 B  {"ts":…}` */
export function formatTrafficLine(line: TrafficLine): string {
  return `${line.ts.slice(11, 23)} ${line.direction === 'out' ? '→' : '←'} ${line.topic}  ${line.bytes} B  ${line.summary}`;
}
