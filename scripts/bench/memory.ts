/**
 * Memory: VmRSS (from /proc/<pid>/status) of the compiled binary running `run`, connected with an empty queue,
 * after `idleSeconds` idle (median of 3 samples 1 s apart); then after `loadMessages` telemetry messages pushed
 * through the local producer API (one record each → one outbox envelope → one QoS 1 publish), drained to an empty
 * queue and idle again: growth in % of the idle RSS, plus the peak while loading (VmHWM).
 * Baselines in the same run: `bun -e 'setInterval(()=>{},1000)'` (the runtime's floor) and Node running the same
 * runtime (`node --import tsx src/edge/main.ts run`), idle and under the same load.
 * Investigation rows: the binary with BUN_OPTIONS=--smol, and `bun src/edge/main.ts run` (not compiled).
 */
import { sleep } from '../../src/common/time/sleep.js';
import { BUN, rssSplitMiB, start, vmHwmMiB, vmRssMiB, type Child } from './lib/proc.js';
import { binaryLauncher, newDevice, nodeLauncher, startRun, type Device, type Launcher } from './lib/device.js';
import type { BenchResult, Preset } from './lib/result.js';
import { median, ratio, summarize, target, type TableRow } from './lib/stats.js';
import { pairDevice, type World } from './lib/world.js';

/**
 * Requests in flight: each POST is answered after its group commit (up to 10 ms), so intake is bounded by about
 * concurrency / 10 ms; 128 keeps the loader from being the bottleneck without flooding the 2-core machine.
 */
const LOAD_CONCURRENCY = 128;

async function sampleRss(pid: number, samples = 3): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < samples; i++) {
    const v = vmRssMiB(pid);
    if (v === null) throw new Error(`process ${pid} has gone`);
    values.push(v);
    if (i < samples - 1) await sleep(1_000);
  }
  return median(values);
}

async function queueDepth(address: string): Promise<number> {
  const res = await fetch(`${address}/v1/status`, { signal: AbortSignal.timeout(5_000) });
  const body = (await res.json()) as { queue: { depth: number } };
  return body.queue.depth;
}

interface RunSample {
  idle: number;
  idleSplit?: { anon: number; file: number } | null;
  afterLoad?: number;
  afterSplit?: { anon: number; file: number } | null;
  peak?: number;
  loadRate?: number;
  drainSeconds?: number;
  loadFailed?: number;
}

async function runDevice(
  world: World,
  launcher: Launcher,
  device: Device,
  preset: Preset,
  load: boolean,
  log: (t: string) => void,
): Promise<RunSample> {
  const t0 = performance.now();
  const child: Child = startRun(launcher, device);
  try {
    const started = await child.waitForLine((l) => l.event === 'started', 60_000);
    await world.observer.waitFor(device.edgeId, t0, (j) => j.state === 'online', 60_000);
    await sleep(preset.idleSeconds * 1000);
    const idle = await sampleRss(child.pid);
    const idleSplit = rssSplitMiB(child.pid);
    if (!load) return { idle, idleSplit };
    const address = typeof started.producer === 'string' ? started.producer : null;
    if (!address?.startsWith('http'))
      throw new Error(`no producer API address in the started line: ${JSON.stringify(started)}`);
    let peak = idle;
    const sampler = setInterval(() => {
      const v = vmRssMiB(child.pid);
      if (v !== null) peak = Math.max(peak, v);
    }, 250);
    try {
      const loader = start(BUN, [
        'scripts/bench/load-producer.ts',
        '--url',
        address,
        '--messages',
        String(preset.loadMessages),
        '--concurrency',
        String(LOAD_CONCURRENCY),
        '--max-seconds',
        String(preset.name === 'quick' ? 120 : 900),
      ]);
      const result = await loader.waitForLine(
        (l) => typeof l.rate === 'number',
        preset.name === 'quick' ? 180_000 : 1_000_000,
      );
      await loader.stop(5_000);
      const drainStarted = performance.now();
      const drainDeadline = drainStarted + (preset.name === 'quick' ? 120_000 : 600_000);
      let depth = await queueDepth(address);
      while (depth > 0 && performance.now() < drainDeadline) {
        await sleep(250);
        depth = await queueDepth(address);
      }
      if (depth > 0) throw new Error(`the queue did not drain in time (depth ${depth})`);
      const drainSeconds = (performance.now() - drainStarted) / 1000;
      clearInterval(sampler);
      const hwm = vmHwmMiB(child.pid);
      if (hwm !== null) peak = Math.max(peak, hwm);
      await sleep(preset.idleSeconds * 1000);
      const afterLoad = await sampleRss(child.pid);
      const afterSplit = rssSplitMiB(child.pid);
      log(
        `    ${launcher.label}: ${Math.round(result.rate as number)} msg/s in, drained ${drainSeconds.toFixed(1)} s after; RSS idle ${idle.toFixed(1)} → after ${afterLoad.toFixed(1)} MiB (peak ${peak.toFixed(1)})`,
      );
      return {
        idle,
        idleSplit,
        afterLoad,
        afterSplit,
        peak,
        loadRate: result.rate as number,
        drainSeconds,
        loadFailed: result.failed as number,
      };
    } finally {
      clearInterval(sampler);
    }
  } finally {
    await child.stop();
  }
}

async function bunIdle(preset: Preset): Promise<{ rss: number; split: { anon: number; file: number } | null }> {
  const child = start(BUN, ['-e', 'setInterval(()=>{},1000)']);
  try {
    await sleep(preset.idleSeconds * 1000);
    return { rss: await sampleRss(child.pid), split: rssSplitMiB(child.pid) };
  } finally {
    await child.stop(2_000);
  }
}

export async function memoryBench(
  world: World,
  binary: string,
  preset: Preset,
  log: (t: string) => void,
): Promise<BenchResult> {
  const device = newDevice(world, 'bench-mem');
  await pairDevice(world, binary, [], device);
  const launchers = {
    binary: binaryLauncher(binary),
    node: nodeLauncher(),
    smol: binaryLauncher(binary, { BUN_OPTIONS: '--smol' }, 'compiled binary, BUN_OPTIONS=--smol'),
    bunSource: { label: 'bun src/edge/main.ts', command: BUN, prefix: ['src/edge/main.ts'] } satisfies Launcher,
  };
  const samples: Record<string, RunSample[]> = { binary: [], node: [], smol: [], bunSource: [] };
  const bunFloor: number[] = [];
  const bunFloorSplit: Array<{ anon: number; file: number }> = [];
  for (let r = 0; r < preset.memoryRuns; r++) {
    log(`  run ${r + 1}/${preset.memoryRuns}`);
    const floorRun = await bunIdle(preset);
    bunFloor.push(floorRun.rss);
    if (floorRun.split) bunFloorSplit.push(floorRun.split);
    // The load (and the RSS after it) on the first run only: 1M messages take minutes per runtime.
    samples.binary!.push(await runDevice(world, launchers.binary, device, preset, r === 0, log));
    samples.node!.push(await runDevice(world, launchers.node, device, preset, r === 0, log));
    samples.smol!.push(await runDevice(world, launchers.smol, device, preset, false, log));
    samples.bunSource!.push(await runDevice(world, launchers.bunSource, device, preset, false, log));
    log(
      `    idle RSS: binary ${samples.binary!.at(-1)!.idle.toFixed(1)}, node ${samples.node!.at(-1)!.idle.toFixed(1)}, smol ${samples.smol!.at(-1)!.idle.toFixed(1)}, bun source ${samples.bunSource!.at(-1)!.idle.toFixed(1)}, bun -e ${bunFloor.at(-1)!.toFixed(1)} MiB`,
    );
  }
  const idle = (k: string) => summarize(samples[k]!.map((s) => s.idle));
  const floor = summarize(bunFloor);
  const bin = idle('binary');
  const growth = (k: string) =>
    samples[k]!.filter((s) => s.afterLoad !== undefined).map((s) => ((s.afterLoad! - s.idle) / s.idle) * 100);
  const binGrowth = growth('binary');
  const nodeGrowth = growth('node');
  const after = (k: string) => samples[k]!.filter((s) => s.afterLoad !== undefined).map((s) => s.afterLoad!);
  const peak = (k: string) => samples[k]!.filter((s) => s.peak !== undefined).map((s) => s.peak!);
  const split = (k: string, part: 'anon' | 'file') =>
    summarize(samples[k]!.flatMap((s) => (s.idleSplit ? [s.idleSplit[part]] : [])));
  const floorSplit = (part: 'anon' | 'file') => summarize(bunFloorSplit.map((s) => s[part]));
  const rows: TableRow[] = [
    {
      case: 'compiled binary, idle, connected, empty queue',
      summary: bin,
      unit: 'MiB',
      ratio: ratio(bin.median, floor.median),
    },
    { case: '  of which private (RssAnon: heaps, JIT)', summary: split('binary', 'anon'), unit: 'MiB' },
    {
      case: '  of which file-backed (RssFile: executable pages, shared, evictable)',
      summary: split('binary', 'file'),
      unit: 'MiB',
    },
    { case: 'bun -e setInterval (runtime floor)', summary: floor, unit: 'MiB', role: 'baseline' },
    { case: '  of which private (RssAnon)', summary: floorSplit('anon'), unit: 'MiB' },
    { case: '  of which file-backed (RssFile)', summary: floorSplit('file'), unit: 'MiB' },
    {
      case: 'node --import tsx src/edge/main.ts run, idle',
      summary: idle('node'),
      unit: 'MiB',
      ratio: ratio(idle('node').median, floor.median),
    },
    {
      case: 'compiled binary with BUN_OPTIONS=--smol, idle',
      summary: idle('smol'),
      unit: 'MiB',
      ratio: ratio(idle('smol').median, floor.median),
    },
    {
      case: 'bun src/edge/main.ts run (not compiled), idle',
      summary: idle('bunSource'),
      unit: 'MiB',
      ratio: ratio(idle('bunSource').median, floor.median),
    },
  ];
  const loadRows: TableRow[] = [];
  if (binGrowth.length) {
    loadRows.push(
      {
        case: `compiled binary: RSS after ${preset.loadMessages.toLocaleString('en-US')} msgs, drained, idle`,
        summary: summarize(after('binary')),
        unit: 'MiB',
        ratio: ratio(median(after('binary')), bin.median),
        note: 'ratio = after / idle',
      },
      { case: 'compiled binary: growth', summary: summarize(binGrowth), unit: '%' },
      {
        case: '  private (RssAnon) idle → after',
        summary: summarize(
          samples.binary!.flatMap((s) => (s.idleSplit && s.afterSplit ? [s.afterSplit.anon - s.idleSplit.anon] : [])),
        ),
        unit: 'MiB',
        note: 'growth of private memory',
      },
      {
        case: '  file-backed (RssFile) idle → after',
        summary: summarize(
          samples.binary!.flatMap((s) => (s.idleSplit && s.afterSplit ? [s.afterSplit.file - s.idleSplit.file] : [])),
        ),
        unit: 'MiB',
        note: 'executable pages first touched by the load',
      },
      { case: 'compiled binary: peak while loading (VmHWM)', summary: summarize(peak('binary')), unit: 'MiB' },
      {
        case: 'compiled binary: producer API intake',
        summary: summarize(samples.binary!.map((s) => s.loadRate!).filter(Number.isFinite)),
        unit: 'msg/s',
      },
    );
  }
  if (nodeGrowth.length) {
    loadRows.push(
      {
        case: `node + tsx: RSS after ${preset.loadMessages.toLocaleString('en-US')} msgs, drained, idle`,
        summary: summarize(after('node')),
        unit: 'MiB',
        ratio: ratio(median(after('node')), idle('node').median),
        note: 'ratio = after / idle',
      },
      { case: 'node + tsx: growth', summary: summarize(nodeGrowth), unit: '%' },
      { case: 'node + tsx: peak while loading (VmHWM)', summary: summarize(peak('node')), unit: 'MiB' },
      {
        case: 'node + tsx: producer API intake',
        summary: summarize(samples.node!.map((s) => s.loadRate!).filter(Number.isFinite)),
        unit: 'msg/s',
      },
    );
  }
  return {
    name: 'memory',
    title: 'Memory: VmRSS idle and after load through the producer API',
    tables: [
      { title: `idle RSS after ${preset.idleSeconds} s connected (ratio = median / bun -e floor)`, rows },
      ...(loadRows.length
        ? [
            {
              title: `after ${preset.loadMessages.toLocaleString('en-US')} telemetry messages via POST /v1/telemetry (${LOAD_CONCURRENCY} in flight), drained, ${preset.idleSeconds} s idle`,
              rows: loadRows,
            },
          ]
        : []),
    ],
    targets: [
      target('idle RSS, compiled binary', bin.median, 50, 'MiB', 'max'),
      target(
        `RSS growth after ${preset.loadMessages.toLocaleString('en-US')} messages`,
        binGrowth.length ? median(binGrowth) : null,
        5,
        '%',
        'max',
      ),
    ],
    notes: [
      'VmRSS read from /proc/<pid>/status of the process itself (median of 3 samples 1 s apart); peak is VmHWM',
      'VmRSS = RssAnon (private: what competes for RAM) + RssFile (clean pages of the executable, shared and reclaimable by the kernel)',
      `${preset.memoryRuns} idle run(s) per case, the load on the first run only; the same paired device state dir for every case, run one at a time`,
      ...(preset.name === 'quick'
        ? ["quick preset: 100 000 messages (the issue's target is stated for 1 000 000: see the full preset)"]
        : []),
    ],
    extra: { samplesMiB: samples, bunFloorMiB: bunFloor, bunFloorSplitMiB: bunFloorSplit },
  };
}
