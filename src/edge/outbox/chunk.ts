/**
 * Splits validated records into envelope-sized JSON arrays. Each record is encoded once, here; the stored text is
 * what gets published, so the drainer never parses or re-encodes it.
 */
import type { TelemetryRecord } from '../../protocol/messages.js';
import { MAX_RECORDS_BYTES, MAX_RECORDS_PER_ENVELOPE } from './types.js';

export interface Chunk {
  /** JSON array text. */
  json: string;
  /** UTF-8 length of `json`: what the size bound counts. */
  bytes: number;
}

export function chunkRecords(records: readonly TelemetryRecord[]): Chunk[] {
  const chunks: Chunk[] = [];
  let parts: string[] = [];
  let bytes = 2; // the brackets
  const close = () => {
    const json = `[${parts.join(',')}]`;
    chunks.push({ json, bytes });
    parts = [];
    bytes = 2;
  };
  for (const record of records) {
    const text = JSON.stringify(record);
    const size = Buffer.byteLength(text);
    // A single record is far below the budget (tag ≤ 256, string value ≤ 4096 chars), so a chunk never stays empty.
    if (parts.length && (bytes + 1 + size > MAX_RECORDS_BYTES || parts.length >= MAX_RECORDS_PER_ENVELOPE)) close();
    bytes += parts.length ? size + 1 : size;
    parts.push(text);
  }
  if (parts.length) close();
  return chunks;
}

/** The DataEnvelope JSON around stored records, by concatenation (the records text is already valid JSON). */
export function envelopeJson(seq: number, ts: string, historical: boolean, records: string): string {
  return `{"seq":${seq},"ts":${JSON.stringify(ts)},"historical":${historical},"records":${records}}`;
}
