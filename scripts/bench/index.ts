/**
 * `npm run bench [-- --quick|--full] [--only a,b] [--out DIR]`: the benchmark suite (issue 9). Each bench runs
 * its baseline in the same run, prints a table (median, p95, ratio to baseline) and writes
 * `<out>/<name>.json`; the run ends with `<out>/summary.json` (machine, binary, every table, every target) and
 * `<out>/summary.md` (README-ready tables). Benches: cold-start, cold-start-backlog, pairing, memory, outbox, fleet, update.
 * No number is asserted: targets are reported as met or missed, by how much. Loopback only; every loop is bounded.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { coldStartBench } from './cold-start.js';
import { coldStartBacklogBench } from './cold-start-backlog.js';
import { fleetBench } from './fleet-suite.js';
import { ensureBinary, type BinaryInfo } from './lib/binary.js';
import { describeMachine, machineInfo } from './lib/machine.js';
import { killAll, ROOT } from './lib/proc.js';
import { PRESETS, type BenchResult, type Preset } from './lib/result.js';
import { describeTarget, markdownTable, textTable } from './lib/stats.js';
import { startWorld, type World } from './lib/world.js';
import { memoryBench } from './memory.js';
import { outboxBench } from './outbox-suite.js';
import { pairingBench } from './pairing.js';
import { updateBench } from './update.js';

const ALL = ['cold-start', 'cold-start-backlog', 'pairing', 'memory', 'outbox', 'fleet', 'update'] as const;
type Name = (typeof ALL)[number];

const USAGE = `usage: npm run bench -- [--quick | --full] [--only ${ALL.join(',')}] [--out DIR (out/bench)] [--rebuild]`;

function parse(): { preset: Preset; only: Name[]; out: string; rebuild: boolean } {
  try {
    const { values } = parseArgs({
      options: {
        quick: { type: 'boolean' },
        full: { type: 'boolean' },
        only: { type: 'string' },
        out: { type: 'string' },
        rebuild: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    }
    if (values.quick && values.full) throw new Error('give --quick or --full, not both');
    const only = values.only
      ? values.only
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : [...ALL];
    for (const name of only) if (!(ALL as readonly string[]).includes(name)) throw new Error(`unknown bench '${name}'`);
    return {
      preset: PRESETS[values.quick ? 'quick' : 'full'],
      only: only as Name[],
      out: resolve(ROOT, values.out ?? 'out/bench'),
      rebuild: values.rebuild === true,
    };
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
}

const log = (text: string) => void process.stdout.write(`${text}\n`);

async function main(): Promise<number> {
  const { preset, only, out, rebuild } = parse();
  mkdirSync(out, { recursive: true });
  const machine = machineInfo();
  const startedAt = new Date();
  const t0 = performance.now();
  log(`consystence-edge bench, ${preset.name} preset: ${only.join(', ')}`);
  log(`machine: ${describeMachine(machine)}`);

  let binary: BinaryInfo | null = null;
  if (only.some((n) => n !== 'outbox' && n !== 'fleet')) {
    binary = await ensureBinary(log, rebuild);
    log(
      `binary: ${binary.path} ${(binary.bytes / 2 ** 20).toFixed(1)} MiB, bytecode ${binary.bytecode}, built ${binary.buildTime}`,
    );
  }

  const results: BenchResult[] = [];
  const durations: Record<string, number> = {};
  let world: World | null = null;
  const needWorld = async () => (world ??= await startWorld('suite'));
  try {
    for (const name of only) {
      const started = performance.now();
      log(`\n== ${name} ==`);
      let result: BenchResult;
      try {
        switch (name) {
          case 'cold-start':
            result = await coldStartBench(await needWorld(), binary!.path, preset, log);
            break;
          case 'cold-start-backlog':
            result = await coldStartBacklogBench(await needWorld(), binary!.path, preset, log);
            break;
          case 'pairing':
            result = await pairingBench(await needWorld(), binary!.path, preset, log);
            break;
          case 'memory':
            result = await memoryBench(await needWorld(), binary!.path, preset, log);
            break;
          case 'outbox':
            result = await outboxBench(preset, out, log);
            break;
          case 'fleet':
            result = await fleetBench(preset, out, log);
            break;
          case 'update':
            result = await updateBench(binary!.path, preset, log);
            break;
        }
      } catch (error) {
        result = {
          name,
          title: name,
          tables: [],
          targets: [],
          notes: [],
          unavailable: `failed: ${(error as Error).stack ?? String(error)}`,
        };
      }
      durations[name] = (performance.now() - started) / 1000;
      results.push(result);
      printResult(result);
      writeFileSync(
        join(out, `${name}.json`),
        `${JSON.stringify({ preset: preset.name, machine, binary, at: new Date().toISOString(), seconds: durations[name], ...result }, null, 2)}\n`,
      );
    }
  } finally {
    await (world as World | null)?.close();
    killAll();
  }

  const seconds = (performance.now() - t0) / 1000;
  const summary = {
    preset: preset.name,
    command: `npm run bench -- --${preset.name}${only.length < ALL.length ? ` --only ${only.join(',')}` : ''}`,
    startedAt: startedAt.toISOString(),
    seconds,
    durations,
    machine,
    binary,
    results,
  };
  writeFileSync(join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(
    join(out, 'summary.md'),
    markdownSummary(summary.command, describeMachine(machine), binary, results, seconds),
  );
  log('\n== targets ==');
  for (const r of results) for (const t of r.targets) log(`  ${describeTarget(t)}`);
  for (const r of results) if (r.unavailable) log(`  ${r.name}: ${r.unavailable.split('\n')[0]}`);
  log(`\nwrote ${join(out, 'summary.json')} and summary.md; took ${seconds.toFixed(0)} s`);
  return results.some((r) => r.unavailable?.startsWith('failed')) ? 1 : 0;
}

function printResult(result: BenchResult): void {
  if (result.unavailable) {
    log(`${result.name}: ${result.unavailable}`);
    return;
  }
  for (const table of result.tables) log(`\n${textTable(table.title, table.rows)}`);
  for (const note of result.notes) log(`  note: ${note}`);
  for (const t of result.targets) log(`  target ${describeTarget(t)}`);
}

function markdownSummary(
  command: string,
  machine: string,
  binary: BinaryInfo | null,
  results: BenchResult[],
  seconds: number,
): string {
  const parts = [`Command: \`${command}\` (${seconds.toFixed(0)} s)`, `Machine: ${machine}`];
  if (binary)
    parts.push(
      `Binary: \`out/consystence-edge-linux-x64\`, ${(binary.bytes / 2 ** 20).toFixed(1)} MiB, bytecode ${binary.bytecode}`,
    );
  for (const r of results) {
    parts.push(`### ${r.title}`);
    if (r.unavailable) {
      parts.push(`Not available: ${r.unavailable.split('\n')[0]}`);
      continue;
    }
    for (const t of r.tables) parts.push(`${t.title}\n\n${markdownTable(t.rows)}`);
    if (r.targets.length) parts.push(r.targets.map((t) => `- ${describeTarget(t)}`).join('\n'));
    if (r.notes.length) parts.push(r.notes.map((n) => `- ${n}`).join('\n'));
  }
  return `${parts.join('\n\n')}\n`;
}

const onSignal = () => {
  killAll();
  process.exit(130);
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${(error as Error).stack ?? String(error)}\n`);
    killAll();
    process.exit(1);
  },
);
