/**
 * Cold start: exec of `run` of an already-paired device → its retained `state:"online"` status (with a bootId
 * not seen before) arriving at a subscriber on the site's broker. Baselines in the same run, against the same
 * mosquitto, with the edge's own clientId/username/token and status topic: a minimal mqtt.js connect-and-publish
 * script under Bun (scripts/bench/baseline-mqtt.ts) and `mosquitto_pub -q 1 -r` (plus, for insight, that script compiled like the binary). All are interleaved run
 * by run (edge, bun, compiled, mosquitto_pub, edge, …) after one unrecorded warm-up each, so drift on a shared machine hits
 * all of them alike.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BUN, ROOT, runToEnd, start } from './lib/proc.js';
import {
  binaryLauncher,
  newDevice,
  readRegistration,
  startRun,
  statusTopic,
  type Device,
  type Launcher,
} from './lib/device.js';
import type { BenchResult, Preset } from './lib/result.js';
import { ratio, summarize, target, type TableRow } from './lib/stats.js';
import { pairDevice, type World } from './lib/world.js';

const ONLINE_TIMEOUT_MS = 20_000;

/** One exec → online of a paired device; returns ms, and ms to the `started` stdout line. */
export async function edgeToOnline(
  world: World,
  launcher: Launcher,
  device: Device,
  seenBootIds: Set<string>,
): Promise<{ ms: number; startedMs: number | null; bootId: string }> {
  const t0 = performance.now();
  const child = startRun(launcher, device);
  let startedAt: number | null = null;
  void child
    .waitForLine((l) => l.event === 'started', ONLINE_TIMEOUT_MS)
    .then(
      () => (startedAt = performance.now()),
      () => {},
    );
  try {
    const seen = await Promise.race([
      world.observer.waitFor(
        device.edgeId,
        t0,
        (j) => j.state === 'online' && typeof j.bootId === 'string' && !seenBootIds.has(j.bootId),
        ONLINE_TIMEOUT_MS,
      ),
      child.exited.then((e) =>
        Promise.reject(
          new Error(
            `${launcher.label} run exited (${e.code ?? e.signal}) before online: ${child.stderrTail.slice(-5).join(' | ')}`,
          ),
        ),
      ),
    ]);
    const bootId = String(seen.json.bootId);
    seenBootIds.add(bootId);
    return { ms: seen.at - t0, startedMs: startedAt === null ? null : (startedAt as number) - t0, bootId };
  } finally {
    const exit = await child.stop();
    if (exit.code !== 0 && exit.signal !== 'SIGTERM')
      // biome-ignore lint/correctness/noUnsafeFinally: a dirty exit fails the bench even when the body threw first
      throw new Error(
        `${launcher.label} run exited ${exit.code ?? exit.signal} on SIGTERM: ${child.stderrTail.slice(-5).join(' | ')}`,
      );
  }
}

/**
 * The same baseline script compiled as the edge is (`bun build --compile --minify --bytecode --format=esm`): not a
 * target, but it separates what the edge itself costs from what compiling saves over a script.
 */
async function compileBaseline(): Promise<string | null> {
  const dir = join(ROOT, 'out', 'bench');
  mkdirSync(dir, { recursive: true });
  const outfile = join(dir, 'baseline-mqtt-linux-x64');
  const build = await runToEnd(
    BUN,
    [
      'build',
      '--compile',
      '--minify',
      '--bytecode',
      '--format=esm',
      '--no-compile-autoload-dotenv',
      '--no-compile-autoload-bunfig',
      'scripts/bench/baseline-mqtt.ts',
      '--outfile',
      outfile,
    ],
    { timeoutMs: 120_000 },
  );
  return build.code === 0 ? outfile : null;
}

type BaselineKind = 'bun' | 'compiled' | 'mosquitto_pub';

async function baselineToOnline(
  world: World,
  kind: BaselineKind,
  device: Device,
  token: string,
  compiled?: string,
): Promise<number> {
  const bootId = randomUUID();
  const topic = statusTopic(world.siteId, device.edgeId);
  const payload = JSON.stringify({
    state: 'online',
    version: 'baseline',
    bootId,
    startedAt: new Date().toISOString(),
    ts: new Date().toISOString(),
  });
  const t0 = performance.now();
  const env = {
    ...process.env,
    BENCH_PORT: String(world.mosquitto.port),
    BENCH_CLIENT_ID: device.edgeId,
    BENCH_PASSWORD: token,
    BENCH_TOPIC: topic,
    BENCH_PAYLOAD: payload,
  };
  const child =
    kind === 'bun'
      ? start(BUN, ['scripts/bench/baseline-mqtt.ts'], { env })
      : kind === 'compiled'
        ? start(compiled!, [], { env })
        : start('mosquitto_pub', [
            '-h',
            '127.0.0.1',
            '-p',
            String(world.mosquitto.port),
            '-V',
            'mqttv311',
            '-i',
            device.edgeId,
            '-u',
            device.edgeId,
            '-P',
            token,
            '-t',
            topic,
            '-m',
            payload,
            '-q',
            '1',
            '-r',
          ]);
  try {
    const seen = await Promise.race([
      world.observer.waitFor(device.edgeId, t0, (j) => j.bootId === bootId, ONLINE_TIMEOUT_MS),
      child.exited.then((e) =>
        e.code === 0
          ? new Promise<never>(() => {})
          : Promise.reject(new Error(`${kind} exited ${e.code ?? e.signal}: ${child.stderrTail.join(' | ')}`)),
      ),
    ]);
    return seen.at - t0;
  } finally {
    await child.stop(5_000);
  }
}

export async function coldStartBench(
  world: World,
  binary: string,
  preset: Preset,
  log: (t: string) => void,
): Promise<BenchResult> {
  const device = newDevice(world, 'bench-cold');
  const launcher = binaryLauncher(binary);
  await pairDevice(world, binary, [], device);
  const { token } = readRegistration(device);
  const mosquittoPub = await runToEnd('mosquitto_pub', ['--help'], { timeoutMs: 5_000 });
  const hasMosquittoPub = mosquittoPub.code !== null && /mosquitto_pub/.test(mosquittoPub.stdout + mosquittoPub.stderr);

  const compiled = await compileBaseline();
  const seenBootIds = new Set<string>();
  const comp: number[] = [];
  const edge: number[] = [];
  const edgeStarted: number[] = [];
  const bun: number[] = [];
  const pub: number[] = [];
  for (let i = -1; i < preset.coldStartRuns; i++) {
    const e = await edgeToOnline(world, launcher, device, seenBootIds);
    const b = await baselineToOnline(world, 'bun', device, token);
    const c = compiled ? await baselineToOnline(world, 'compiled', device, token, compiled) : null;
    const m = hasMosquittoPub ? await baselineToOnline(world, 'mosquitto_pub', device, token) : null;
    if (i < 0) continue; // warm-up
    edge.push(e.ms);
    if (e.startedMs !== null) edgeStarted.push(e.startedMs);
    bun.push(b);
    if (m !== null) pub.push(m);
    if (c !== null) comp.push(c);
    log(
      `  run ${i + 1}/${preset.coldStartRuns}: edge ${e.ms.toFixed(1)} ms, mqtt.js+bun ${b.toFixed(1)} ms${c !== null ? `, compiled mqtt.js ${c.toFixed(1)} ms` : ''}${m !== null ? `, mosquitto_pub ${m.toFixed(1)} ms` : ''}`,
    );
  }
  const s = { edge: summarize(edge), bun: summarize(bun), pub: pub.length ? summarize(pub) : null };
  const rows: TableRow[] = [
    {
      case: 'edge binary: exec → online at broker',
      summary: s.edge,
      unit: 'ms',
      ratio: ratio(s.edge.median, s.bun.median),
      note: 'vs mqtt.js+bun',
    },
    ...(edgeStarted.length
      ? [
          {
            case: 'edge binary: exec → "started" line (state opened)',
            summary: summarize(edgeStarted),
            unit: 'ms',
            ratio: ratio(summarize(edgeStarted).median, s.bun.median),
          },
        ]
      : []),
    { case: 'bare mqtt.js script under Bun', summary: s.bun, unit: 'ms', role: 'baseline' },
    ...(comp.length
      ? [
          {
            case: 'the same script compiled (bun build --compile --bytecode)',
            summary: summarize(comp),
            unit: 'ms',
            ratio: ratio(summarize(comp).median, s.bun.median),
          },
        ]
      : []),
    ...(s.pub
      ? [{ case: 'mosquitto_pub -q 1 -r', summary: s.pub, unit: 'ms', ratio: ratio(s.pub.median, s.bun.median) }]
      : []),
  ];
  return {
    name: 'cold-start',
    title: 'Cold start: exec → retained online status received (paired device)',
    tables: [{ title: 'cold start (ratio = median / bare mqtt.js under Bun)', rows }],
    targets: [
      target('cold start median', s.edge.median, 100, 'ms', 'max'),
      target('cold start / bare mqtt.js under Bun', ratio(s.edge.median, s.bun.median), 3, '×', 'max'),
    ],
    notes: [
      `broker: mosquitto (anonymous, no ACL) at ${world.mosquitto.url}; every client sends the edge's CONNECT (clientId = username = ${device.edgeId}, password = its edge token) and a retained QoS 1 status`,
      'timed by the bench process from just before spawn() to the arrival of the status at its subscriber (performance.now())',
      `${preset.coldStartRuns} recorded runs per client after 1 warm-up, interleaved`,
      ...(comp.length
        ? [
            `edge / compiled mqtt.js script: ${(s.edge.median / summarize(comp).median).toFixed(2)}× (what the edge's own start-up costs over a compiled bare client)`,
          ]
        : ['the compiled baseline did not build']),
      ...(hasMosquittoPub ? [] : ['mosquitto_pub not installed: that baseline is missing']),
    ],
    extra: { samplesMs: { edge, edgeStarted, bun, compiledBaseline: comp, mosquittoPub: pub } },
  };
}
