/**
 * Load generator for the memory bench: POSTs N telemetry messages (one record each, so one outbox envelope and
 * one MQTT publish each) to the edge's local producer API with C requests in flight over keep-alive connections,
 * then prints one JSON line {messages, ok, failed, ms, rate}. Bounded by --max-seconds. Runs under Bun or Node:
 *
 *   bun scripts/bench/load-producer.ts --url http://127.0.0.1:PORT --messages 100000 [--concurrency 32] [--max-seconds 600]
 */
import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    messages: { type: 'string' },
    concurrency: { type: 'string' },
    'max-seconds': { type: 'string' },
  },
  strict: true,
});
const url = new URL(values.url ?? 'http://127.0.0.1:8719');
const total = Number(values.messages ?? 100_000);
const concurrency = Number(values.concurrency ?? 32);
const deadline = performance.now() + Number(values['max-seconds'] ?? 600) * 1000;
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });

function post(i: number): Promise<number> {
  const body = JSON.stringify({
    records: [{ tag: 'bench.load', ts: new Date().toISOString(), value: i % 1000, quality: 'good' }],
  });
  return new Promise((resolve) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: '/v1/telemetry',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: 30_000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end(body);
  });
}

let next = 0;
let ok = 0;
let failed = 0;
let firstError: number | null = null;
const started = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < total && performance.now() < deadline) {
      const status = await post(next++);
      if (status === 202) ok++;
      else {
        failed++;
        firstError ??= status;
        if (failed > 1000) return;
      }
    }
  }),
);
const ms = performance.now() - started;
process.stdout.write(
  `${JSON.stringify({ messages: total, ok, failed, firstError, ms, rate: (ok * 1000) / ms, timedOut: next < total })}\n`,
);
agent.destroy();
process.exit(0);
