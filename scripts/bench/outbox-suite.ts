/**
 * Outbox: runs scripts/bench/outbox.ts (durable enqueue with group commit vs one transaction per message, FULL
 * and NORMAL; drain through the Drainer vs raw mqtt.js pipelined QoS 1 to the same broker, aedes and mosquitto)
 * once under Node (better-sqlite3) and once under Bun (bun:sqlite), and folds both into one result.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BUN, runToEnd, TSX_LOADER } from './lib/proc.js';
import type { BenchResult, Preset } from './lib/result.js';
import { ratio, summarize, target, type TableRow, type Target } from './lib/stats.js';

interface OutboxJson {
  runtime: string;
  driver: string;
  rows: Array<{ case: string; median: number; p95: number; runs: number[] }>;
  ratios: Record<string, number>;
}

export async function outboxBench(preset: Preset, out: string, log: (t: string) => void): Promise<BenchResult> {
  const runtimes = [
    { label: 'node', command: process.execPath, args: [...TSX_LOADER, 'scripts/bench/outbox.ts'] },
    { label: 'bun', command: BUN, args: ['scripts/bench/outbox.ts'] },
  ];
  const tables: BenchResult['tables'] = [];
  const targets: Target[] = [];
  const raw: Record<string, OutboxJson> = {};
  const notes: string[] = [
    'messages are one 60-byte telemetry record each; rates in msg/s, one sample per run; the p95 of a rate is its 95th-percentile (near-best) run',
  ];
  for (const rt of runtimes) {
    const file = join(out, `outbox-${rt.label}.json`);
    rmSync(file, { force: true });
    log(`  outbox bench under ${rt.label} …`);
    const run = await runToEnd(
      rt.command,
      [...rt.args, ...(preset.name === 'quick' ? ['--quick'] : []), '--out', file],
      { timeoutMs: preset.name === 'quick' ? 240_000 : 900_000 },
    );
    if (run.code !== 0 || !existsSync(file)) {
      notes.push(
        `${rt.label}: outbox bench failed (exit ${run.code}): ${run.stderr.trim().split('\n').slice(-3).join(' | ')}`,
      );
      continue;
    }
    const json = JSON.parse(readFileSync(file, 'utf8')) as OutboxJson;
    raw[rt.label] = json;
    const row = (name: string) => json.rows.find((r) => r.case === name);
    const toRow = (name: string, label: string, baseline?: string): TableRow | null => {
      const r = row(name);
      if (!r) return null;
      const s = summarize(r.runs);
      const b = baseline ? row(baseline) : undefined;
      return {
        case: label,
        summary: s,
        unit: 'msg/s',
        ...(baseline ? { ratio: b ? ratio(s.median, summarize(b.runs).median) : null } : { role: 'baseline' }),
      };
    };
    const enqueue: TableRow[] = [];
    for (const sync of ['FULL', 'NORMAL']) {
      enqueue.push(
        toRow(`enqueue group-commit ${sync}`, `group commit, synchronous=${sync}`, `enqueue tx-per-message ${sync}`)!,
      );
      enqueue.push(toRow(`enqueue tx-per-message ${sync}`, `one transaction per message, synchronous=${sync}`)!);
    }
    tables.push({
      title: `outbox enqueue under ${json.runtime} (${json.driver}); ratio = group commit / tx per message`,
      rows: enqueue.filter(Boolean),
    });
    const drain: TableRow[] = [];
    for (const broker of ['aedes (in-process)', 'mosquitto']) {
      const d = toRow(
        `drain via Drainer (256 in flight) → ${broker}`,
        `Drainer (256 in flight) → ${broker}`,
        `raw mqtt.js QoS 1, all in flight → ${broker}`,
      );
      if (!d) continue;
      drain.push(
        d,
        toRow(`raw mqtt.js QoS 1, all in flight → ${broker}`, `raw mqtt.js QoS 1, all in flight → ${broker}`)!,
      );
      const w = toRow(`raw mqtt.js QoS 1, 256 in flight → ${broker}`, `raw mqtt.js QoS 1, 256 in flight → ${broker}`);
      if (w) drain.push({ ...w, role: 'baseline', note: 'same window as the Drainer' });
      targets.push(target(`drain / raw (${broker}, ${rt.label})`, d.ratio ?? null, 0.8, '×', 'min'));
    }
    tables.push({ title: `outbox drain under ${json.runtime}; ratio = Drainer / raw all in flight`, rows: drain });
    const full = row('enqueue group-commit FULL');
    targets.unshift(
      target(
        `group-commit enqueue, FULL (${rt.label})`,
        full ? summarize(full.runs).median : null,
        50_000,
        'msg/s',
        'min',
      ),
    );
  }
  return {
    name: 'outbox',
    title: 'Outbox: durable enqueue and drain (Node and Bun)',
    tables,
    targets,
    notes,
    extra: { raw },
  };
}
