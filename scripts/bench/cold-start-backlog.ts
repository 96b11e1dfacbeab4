/**
 * Cold start with a backlog (issue 12.2): exec of `run` → online at the broker for a paired device whose outbox
 * holds `preset.backlogMb` (1 GiB full, 64 MiB quick), with the page cache of its state files and of the binary
 * dropped before every run. Baseline in the same run: the same binary and broker, a paired device with an empty
 * queue, caches dropped alike; runs interleaved. The ratio backlog / empty is the figure: coming online must not
 * wait on the size of the queue.
 *
 * The page cache is dropped per file with `dd iflag=nocache count=0` (posix_fadvise DONTNEED) after a `sync` of the
 * file: /proc/sys/vm/drop_caches needs a writable /proc/sys, which containers rarely have. `fincore` (util-linux),
 * where installed, confirms how much of each file was still resident; the notes record it.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { OUTBOX_DB_FILE } from '../../src/edge/stores/index.js';
import { edgeToOnline } from './cold-start.js';
import { binaryLauncher, newDevice, type Device } from './lib/device.js';
import { runToEnd } from './lib/proc.js';
import type { BenchResult, Preset } from './lib/result.js';
import { ratio, summarize, target, type TableRow } from './lib/stats.js';
import { pairDevice, type World } from './lib/world.js';

/** Envelope-sized rows, as the producer API makes them. */
const ROW_BYTES = 4096;

/** Fills the device's outbox.db (created at pairing) to `mb` MiB of queued envelopes, in one transaction. */
function fillBacklog(device: Device, mb: number): number {
  const db = new Database(join(device.stateDir, OUTBOX_DB_FILE));
  try {
    const rows = Math.ceil((mb * 2 ** 20) / ROW_BYTES);
    const value = 'x'.repeat(ROW_BYTES - 64);
    const insert = db.prepare(
      'INSERT INTO outbox (seq, channel, enqueued_at, ts, bytes, payload) VALUES (?, ?, ?, ?, ?, ?)',
    );
    const now = Date.now();
    db.transaction(() => {
      for (let seq = 1; seq <= rows; seq++) {
        const payload = JSON.stringify([{ tag: 'bench.fill', ts: new Date(now).toISOString(), value }]);
        insert.run(seq, 'telemetry', now, new Date(now).toISOString(), payload.length, payload);
      }
      db.prepare('UPDATE outbox_state SET next_seq = ?, depth = ?, bytes = (SELECT SUM(bytes) FROM outbox)').run(
        rows + 1,
        rows,
      );
    })();
    db.pragma('wal_checkpoint(TRUNCATE)');
    return rows;
  } finally {
    db.close();
  }
}

async function dropCache(paths: readonly string[]): Promise<void> {
  for (const path of paths) {
    await runToEnd('sync', [path], { timeoutMs: 60_000 });
    await runToEnd('dd', [`if=${path}`, 'iflag=nocache', 'count=0', 'status=none'], { timeoutMs: 10_000 });
  }
}

/** Resident bytes of the files, from `fincore --bytes` (null when fincore is missing). */
async function residentBytes(paths: readonly string[]): Promise<number | null> {
  const result = await runToEnd('fincore', ['--bytes', '--noheadings', '--output', 'RES', ...paths], {
    timeoutMs: 10_000,
  }).catch(() => null);
  if (result?.code !== 0) return null;
  return result.stdout
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter(Number.isFinite)
    .reduce((a, b) => a + b, 0);
}

const stateFilesOf = (device: Device) =>
  readdirSync(device.stateDir)
    .filter((f) => /\.db(-wal|-shm)?$/.test(f))
    .map((f) => join(device.stateDir, f));

export async function coldStartBacklogBench(
  world: World,
  binary: string,
  preset: Preset,
  log: (t: string) => void,
): Promise<BenchResult> {
  const launcher = binaryLauncher(binary);
  const backlogged = newDevice(world, 'bench-backlog');
  const empty = newDevice(world, 'bench-empty');
  await pairDevice(world, binary, [], backlogged);
  await pairDevice(world, binary, [], empty);
  if (!existsSync(join(backlogged.stateDir, OUTBOX_DB_FILE))) throw new Error('pairing did not create outbox.db');
  const t0 = performance.now();
  const rows = fillBacklog(backlogged, preset.backlogMb);
  log(
    `  backlog: ${rows} envelopes, ${preset.backlogMb} MiB, written in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );

  const seen = new Set<string>();
  const samples = { backlog: [] as number[], empty: [] as number[] };
  const resident: number[] = [];
  const once = async (device: Device) => {
    const files = [binary, ...stateFilesOf(device)];
    await dropCache(files);
    const left = await residentBytes(files);
    if (left !== null) resident.push(left);
    return (await edgeToOnline(world, launcher, device, seen)).ms;
  };
  for (let i = -1; i < preset.coldStartRuns; i++) {
    const b = await once(backlogged);
    const e = await once(empty);
    if (i < 0) continue; // warm-up
    samples.backlog.push(b);
    samples.empty.push(e);
    log(
      `  run ${i + 1}/${preset.coldStartRuns}: ${preset.backlogMb} MiB backlog ${b.toFixed(1)} ms, empty queue ${e.toFixed(1)} ms`,
    );
  }
  const s = { backlog: summarize(samples.backlog), empty: summarize(samples.empty) };
  const r = ratio(s.backlog.median, s.empty.median);
  const tableRows: TableRow[] = [
    {
      case: `edge binary, ${preset.backlogMb} MiB backlog, page cache dropped: exec → online`,
      summary: s.backlog,
      unit: 'ms',
      ratio: r,
      note: 'vs empty queue',
    },
    { case: 'edge binary, empty queue, page cache dropped', summary: s.empty, unit: 'ms', role: 'baseline' },
  ];
  const maxResident = resident.length ? Math.max(...resident) : null;
  return {
    name: 'cold-start-backlog',
    title: `Cold start with a ${preset.backlogMb} MiB backlog, page cache dropped`,
    tables: [{ title: 'cold start with a backlog (ratio = median / empty queue)', rows: tableRows }],
    targets: [target('cold start with backlog / empty queue', r, 1.5, '×', 'max')],
    notes: [
      `backlog: ${rows} envelopes of ~${ROW_BYTES} B in outbox.db (filled by the bench, as a long site outage would)`,
      'page cache dropped before every run for the binary and every state file: sync FILE; dd if=FILE iflag=nocache count=0 (posix_fadvise DONTNEED; /proc/sys/vm/drop_caches is not writable in a container)',
      maxResident === null
        ? 'fincore not installed: how much stayed resident after the drop is not measured'
        : `after each drop, at most ${(maxResident / 2 ** 20).toFixed(2)} MiB of those files were still resident (fincore)`,
      `${preset.coldStartRuns} recorded runs per case after 1 warm-up, interleaved; the edge drains a little of the backlog each run (it is SIGTERMed once online)`,
    ],
    extra: { samplesMs: samples, residentBytesAfterDrop: resident, backlogRows: rows },
  };
}
