/**
 * Outbox benchmark (issue 5 targets): durable enqueue with group commit vs one transaction per message, under
 * synchronous FULL and NORMAL; and drain through the Drainer (QoS 1) vs raw mqtt.js pipelined QoS 1 publishing of
 * the same payloads to the same broker in the same run (aedes in-process; mosquitto too if installed).
 * Run under Node (`tsx scripts/bench/outbox.ts`) and Bun (`bun scripts/bench/outbox.ts`) to cover both drivers.
 *
 *   --quick        a preset under 60 s
 *   --out <path>   write the results as JSON
 *
 * Numbers are throughput per run (msg/s); the table shows the median and p95 over runs (p95 of a rate: the
 * 95th-percentile run, i.e. near the best). Absolute values are for this machine only; compare ratios.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { Drainer, Outbox, outboxMigrations } from '../../src/edge/outbox/index.js';
import { openDatabase, runtimeDriverName, type Db } from '../../src/storage/index.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const outPath = args.includes('--out') ? args[args.indexOf('--out') + 1] : undefined;
const P = quick
  ? { runs: 3, groupMessages: 30_000, singleMessages: 500, drainMessages: 10_000 }
  : { runs: 5, groupMessages: 200_000, singleMessages: 3_000, drainMessages: 50_000 };
const runtime =
  typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined'
    ? `bun ${(globalThis as unknown as { Bun: { version: string } }).Bun.version}`
    : `node ${process.version}`;
const migrations = outboxMigrations;
const work = mkdtempSync(join(tmpdir(), 'cst-bench-'));
const record = { tag: 'line1.flow', ts: '2026-03-01T10:00:00.000Z', value: 12.5, quality: 'good' as const };

interface Row {
  case: string;
  median: number;
  p95: number;
  runs: number[];
}
const rows: Row[] = [];
const summary = (name: string, runs: number[]): Row => {
  const sorted = [...runs].sort((a, b) => a - b);
  const row = {
    case: name,
    median: sorted[Math.floor(sorted.length / 2)]!,
    p95: sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)]!,
    runs,
  };
  rows.push(row);
  console.error(`  ${name}: median ${Math.round(row.median)} msg/s`);
  return row;
};
const rate = (n: number, ms: number) => (n * 1000) / ms;

async function freshOutbox(sync: 'FULL' | 'NORMAL', label: string): Promise<{ db: Db; outbox: Outbox }> {
  const path = join(work, `${label}-${Math.random().toString(36).slice(2)}.db`);
  const { db } = await openDatabase({ path, migrations, synchronous: sync });
  return { db, outbox: new Outbox(db, { limits: { maxSizeMb: 4096, retentionDays: 3650 }, sweepIntervalMs: 0 }) };
}

/** Many producers: up to `window` enqueues outstanding at once, as the producer API sees under load. */
async function enqueueGroup(outbox: Outbox, n: number, window = 2000): Promise<number> {
  const started = performance.now();
  const outstanding = new Set<Promise<unknown>>();
  for (let i = 0; i < n; i++) {
    const p: Promise<unknown> = outbox.enqueue('telemetry', [record]).then(() => outstanding.delete(p));
    outstanding.add(p);
    if (outstanding.size >= window) await Promise.race(outstanding);
  }
  await Promise.all(outstanding);
  return rate(n, performance.now() - started);
}

/** One producer, one transaction per message (`durable: 'now'`, awaited): the baseline group commit beats. */
async function enqueueSingle(outbox: Outbox, n: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < n; i++) await outbox.enqueue('telemetry', [record], { durable: 'now' });
  return rate(n, performance.now() - started);
}

async function benchEnqueue(): Promise<void> {
  for (const sync of ['FULL', 'NORMAL'] as const) {
    const group: number[] = [];
    const single: number[] = [];
    for (let r = 0; r < P.runs; r++) {
      const a = await freshOutbox(sync, 'group');
      group.push(await enqueueGroup(a.outbox, P.groupMessages));
      a.outbox.close();
      a.db.close();
      const b = await freshOutbox(sync, 'single');
      single.push(await enqueueSingle(b.outbox, P.singleMessages));
      b.outbox.close();
      b.db.close();
    }
    summary(`enqueue group-commit ${sync}`, group);
    summary(`enqueue tx-per-message ${sync}`, single);
  }
}

interface Broker {
  name: string;
  port: number;
  close(): Promise<void>;
}

async function startAedes(): Promise<Broker> {
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    name: 'aedes (in-process)',
    port: (server.address() as AddressInfo).port,
    close: async () => {
      await new Promise<void>((r) => broker.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function startMosquitto(): Promise<Broker | null> {
  const binary = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => existsSync(p));
  if (!binary) return null;
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const conf = join(work, 'mosquitto.conf');
  writeFileSync(
    conf,
    `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_inflight_messages 0\nmax_queued_messages 0\n`,
  );
  const proc: ChildProcess = spawn(binary, ['-c', conf], { stdio: 'ignore' });
  for (let i = 0; i < 50; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = mqtt.connect({ host: '127.0.0.1', port, protocol: 'mqtt', reconnectPeriod: 0, connectTimeout: 500 });
      c.once('connect', () => {
        c.end(true);
        resolve(true);
      });
      c.once('error', () => {
        c.end(true);
        resolve(false);
      });
    });
    if (ok) return { name: 'mosquitto', port, close: async () => void proc.kill('SIGTERM') };
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill('SIGKILL');
  return null;
}

async function connect(port: number) {
  const client = mqtt.connect({ host: '127.0.0.1', port, protocol: 'mqtt', clean: true, reconnectPeriod: 0 });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  return client;
}

async function benchDrain(broker: Broker): Promise<void> {
  const drained: number[] = [];
  const raw: number[] = [];
  const rawWindowed: number[] = [];
  for (let r = 0; r < P.runs; r++) {
    // Fill an outbox (NORMAL: filling is not what is measured), then time the drain to empty.
    const { db, outbox } = await freshOutbox('NORMAL', 'drain');
    const fills: Promise<unknown>[] = [];
    for (let i = 0; i < P.drainMessages; i++) fills.push(outbox.enqueue('telemetry', [record]));
    await Promise.all(fills);
    const payload = outbox.peekAfter(0, 1)[0]!;
    const samplePayload = `{"seq":1,"ts":${JSON.stringify(payload.ts)},"historical":true,"records":${payload.records}}`;

    const client = await connect(broker.port);
    const drainer = new Drainer(outbox, {
      publish: async (m) => void (await client.publishAsync(`bench/edge/${m.channel}`, m.payload, { qos: 1 })),
      maxInFlight: 256,
      ackBatch: 512,
      replayRate: null,
    });
    const started = performance.now();
    const empty = new Promise<void>((resolve) => {
      const off = outbox.onChange(() => {
        if (outbox.stats().depth === 0) {
          off();
          resolve();
        }
      });
    });
    drainer.start();
    await empty;
    drained.push(rate(P.drainMessages, performance.now() - started));
    drainer.stop();
    outbox.close();
    db.close();

    // Raw mqtt.js: every publish in flight at once (Promise.all), the same payload size and topic.
    let t = performance.now();
    await Promise.all(
      Array.from({ length: P.drainMessages }, () =>
        client.publishAsync('bench/edge/telemetry', samplePayload, { qos: 1 }),
      ),
    );
    raw.push(rate(P.drainMessages, performance.now() - t));
    // Raw with the same in-flight window as the drainer: isolates the outbox's own cost from pipelining depth.
    t = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 256 }, async () => {
        while (next < P.drainMessages) {
          next++;
          await client.publishAsync('bench/edge/telemetry', samplePayload, { qos: 1 });
        }
      }),
    );
    rawWindowed.push(rate(P.drainMessages, performance.now() - t));
    await client.endAsync(true);
  }
  summary(`drain via Drainer (256 in flight) → ${broker.name}`, drained);
  summary(`raw mqtt.js QoS 1, all in flight → ${broker.name}`, raw);
  summary(`raw mqtt.js QoS 1, 256 in flight → ${broker.name}`, rawWindowed);
}

const started = performance.now();
console.error(`outbox bench on ${runtime} (${runtimeDriverName()}), ${quick ? 'quick' : 'full'} preset`);
await benchEnqueue();
const brokers: Broker[] = [await startAedes()];
const mosquitto = await startMosquitto();
if (mosquitto) brokers.push(mosquitto);
else console.error('  mosquitto not installed: aedes only');
for (const broker of brokers) {
  await benchDrain(broker);
  await broker.close();
}
rmSync(work, { recursive: true, force: true });

const find = (name: string) => rows.find((r) => r.case === name)!;
const ratios: Record<string, number> = {
  'group-commit / tx-per-message (FULL)':
    find('enqueue group-commit FULL').median / find('enqueue tx-per-message FULL').median,
  'group-commit / tx-per-message (NORMAL)':
    find('enqueue group-commit NORMAL').median / find('enqueue tx-per-message NORMAL').median,
  'group-commit FULL / NORMAL': find('enqueue group-commit FULL').median / find('enqueue group-commit NORMAL').median,
};
for (const broker of brokers) {
  const d = find(`drain via Drainer (256 in flight) → ${broker.name}`).median;
  ratios[`drain / raw all-in-flight (${broker.name})`] =
    d / find(`raw mqtt.js QoS 1, all in flight → ${broker.name}`).median;
  ratios[`drain / raw 256-in-flight (${broker.name})`] =
    d / find(`raw mqtt.js QoS 1, 256 in flight → ${broker.name}`).median;
}

const width = Math.max(...rows.map((r) => r.case.length));
console.log(
  `\noutbox bench: ${runtime}, driver ${runtimeDriverName()}, ${quick ? 'quick' : 'full'}, ${P.runs} runs each`,
);
console.log(`${'case'.padEnd(width)}  ${'median msg/s'.padStart(13)}  ${'p95 msg/s'.padStart(10)}`);
for (const r of rows)
  console.log(
    `${r.case.padEnd(width)}  ${Math.round(r.median).toString().padStart(13)}  ${Math.round(r.p95).toString().padStart(10)}`,
  );
console.log('\nratios (of medians)');
for (const [name, value] of Object.entries(ratios)) console.log(`  ${name}: ${value.toFixed(2)}×`);
console.log(
  `\ntarget: group-commit enqueue ≥ 50000 msg/s (FULL: ${Math.round(find('enqueue group-commit FULL').median)}); drain ≥ 0.8× raw`,
);
console.log(`took ${((performance.now() - started) / 1000).toFixed(1)} s`);
if (outPath)
  writeFileSync(
    outPath,
    `${JSON.stringify({ runtime, driver: runtimeDriverName(), preset: quick ? 'quick' : 'full', params: P, rows, ratios, at: new Date().toISOString() }, null, 2)}\n`,
  );
process.exit(0);
