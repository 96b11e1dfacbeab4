/**
 * A small client for on-device applications: `new ProducerClient({ url }).telemetry(records)`.
 * Resolves once the edge has committed the records (the answer is sent after the commit), so a resolved call is
 * durable on the edge. node:http only, so it works on Node and Bun, over TCP or a Unix socket.
 */
import { request } from 'node:http';
import { ErrorBody, type ErrorDetail } from '../../protocol/errors.js';
import { QueueStats, type TelemetryRecord } from '../../protocol/messages.js';
import type { OutboxStats } from '../outbox/types.js';
import { ProduceResponse } from './schema.js';

export type ProducerClientOptions = ({ url: string; socketPath?: never } | { socketPath: string; url?: never }) & {
  timeoutMs?: number;
};

export class ProducerError extends Error {
  override readonly name = 'ProducerError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: ErrorDetail[],
  ) {
    super(message);
  }
}

export class ProducerClient {
  constructor(private readonly options: ProducerClientOptions) {}

  telemetry(records: TelemetryRecord[], options: { durable?: boolean } = {}): Promise<ProduceResponse> {
    return this.post('/v1/telemetry', records, options.durable);
  }

  events(records: TelemetryRecord[], options: { durable?: boolean } = {}): Promise<ProduceResponse> {
    return this.post('/v1/events', records, options.durable);
  }

  async status(): Promise<{ queue: OutboxStats }> {
    const { status, body } = await this.call('GET', '/v1/status');
    if (status !== 200) throw toError(status, body);
    const queue = QueueStats.parse((body as { queue?: unknown }).queue);
    return { queue: { ...queue, dropped: queue.dropped ?? 0 } };
  }

  private async post(path: string, records: TelemetryRecord[], durable?: boolean): Promise<ProduceResponse> {
    const { status, body } = await this.call(
      'POST',
      path,
      JSON.stringify(durable === undefined ? { records } : { records, durable }),
    );
    if (status !== 202) throw toError(status, body);
    return ProduceResponse.parse(body);
  }

  private call(method: string, path: string, payload?: string): Promise<{ status: number; body: unknown }> {
    const target = this.options.url ? new URL(path, this.options.url) : null;
    return new Promise((resolve, reject) => {
      const req = request(
        {
          method,
          ...(target
            ? { host: target.hostname, port: target.port, path: target.pathname }
            : { socketPath: this.options.socketPath, path }),
          headers:
            payload === undefined
              ? {}
              : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
          timeout: this.options.timeoutMs ?? 30_000,
        },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (part: Buffer) => parts.push(part));
          res.on('end', () => {
            const text = Buffer.concat(parts).toString('utf8');
            let body: unknown = text;
            try {
              body = JSON.parse(text);
            } catch {
              // a non-JSON answer is reported as text below
            }
            resolve({ status: res.statusCode ?? 0, body });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () =>
        req.destroy(new Error(`no answer from the edge within ${this.options.timeoutMs ?? 30_000} ms`)),
      );
      req.on('error', reject);
      req.end(payload);
    });
  }
}

function toError(status: number, body: unknown): ProducerError {
  const parsed = ErrorBody.safeParse(body);
  return parsed.success
    ? new ProducerError(status, parsed.data.error.code, parsed.data.error.message, parsed.data.error.details)
    : new ProducerError(status, 'UNEXPECTED', `unexpected answer ${status}: ${String(body).slice(0, 200)}`);
}
