/**
 * Pairing: a fresh device (new state dir, new hardware id) → online, along the real first-boot path: a pairing
 * URI in a file and exec of `run --pairing-uri-file F` (the service pairs with the mock cloud, leaves the file in
 * place, connects to the site's broker and publishes its retained online status). The pairing code is created before
 * the clock starts. Baseline in the same run, interleaved: the same device's next cold start, now paired — the
 * difference is what pairing costs.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { edgeToOnline } from './cold-start.js';
import { binaryLauncher, newDevice } from './lib/device.js';
import { start } from './lib/proc.js';
import type { BenchResult, Preset } from './lib/result.js';
import { ratio, summarize, target } from './lib/stats.js';
import type { World } from './lib/world.js';

export async function pairingBench(
  world: World,
  binary: string,
  preset: Preset,
  log: (t: string) => void,
): Promise<BenchResult> {
  const launcher = binaryLauncher(binary);
  const fresh: number[] = [];
  const pairedLine: number[] = [];
  const paired: number[] = [];
  for (let i = -1; i < preset.pairingRuns; i++) {
    const device = newDevice(world, `bench-pair-${i + 1}`);
    const uriFile = join(device.stateDir, '..', `${device.edgeId}.pairing-uri`);
    writeFileSync(uriFile, `${await world.pairingUri(device.edgeId)}\n`, { mode: 0o600 });
    const t0 = performance.now();
    const child = start(launcher.command, [
      'run',
      '--pairing-uri-file',
      uriFile,
      '--edge-id',
      device.edgeId,
      '--state-dir',
      device.stateDir,
      '--hardware-id',
      device.hardwareId,
      '--json',
      '--log-level',
      'warn',
      '--producer-port',
      '0',
    ]);
    let pairedAt: number | null = null;
    void child
      .waitForLine((l) => l.event === 'paired', 30_000)
      .then(
        () => (pairedAt = performance.now()),
        () => {},
      );
    let ms: number;
    try {
      const seen = await Promise.race([
        world.observer.waitFor(device.edgeId, t0, (j) => j.state === 'online', 30_000),
        child.exited.then((e) =>
          Promise.reject(
            new Error(`run exited (${e.code ?? e.signal}) before online: ${child.stderrTail.slice(-5).join(' | ')}`),
          ),
        ),
      ]);
      ms = seen.at - t0;
    } finally {
      await child.stop();
    }
    const again = await edgeToOnline(world, launcher, device, new Set());
    if (i < 0) continue;
    fresh.push(ms);
    if (pairedAt !== null) pairedLine.push((pairedAt as number) - t0);
    paired.push(again.ms);
    log(
      `  run ${i + 1}/${preset.pairingRuns}: fresh → online ${ms.toFixed(1)} ms${pairedAt !== null ? ` (paired line at ${((pairedAt as number) - t0).toFixed(1)} ms)` : ''}; paired restart ${again.ms.toFixed(1)} ms`,
    );
  }
  const s = { fresh: summarize(fresh), paired: summarize(paired) };
  return {
    name: 'pairing',
    title: 'Pairing: fresh device → online (run with a pairing-URI file, mock cloud and site server on loopback)',
    tables: [
      {
        title: 'pairing (ratio = median / the same device restarting paired)',
        rows: [
          {
            case: 'fresh device: exec → online (pairs first)',
            summary: s.fresh,
            unit: 'ms',
            ratio: ratio(s.fresh.median, s.paired.median),
          },
          ...(pairedLine.length
            ? [
                {
                  case: 'fresh device: exec → "paired" line',
                  summary: summarize(pairedLine),
                  unit: 'ms',
                  ratio: ratio(summarize(pairedLine).median, s.paired.median),
                },
              ]
            : []),
          { case: 'same device, paired: exec → online', summary: s.paired, unit: 'ms', role: 'baseline' },
        ],
      },
    ],
    targets: [target('pairing → online median', s.fresh.median, 300, 'ms', 'max')],
    notes: [
      'mock cloud in the bench process (HTTP on loopback), mock site server in external-broker mode on the same mosquitto',
      `${preset.pairingRuns} fresh devices after 1 warm-up; each is then restarted once, paired, as the baseline`,
    ],
    extra: { samplesMs: { fresh, pairedLine, paired } },
  };
}
