/**
 * Update: how long a device takes to download and apply a runtime bundle of the real binary (issue 13), against
 * the plain tools moving the same bytes, in the same run.
 *
 * The bundle is made from the compiled binary with the development key, as `npm run release` does. Its artifact is
 * served on loopback by an HTTP server that answers as the site server's artifact route does (edge token, `Range`,
 * `ETag` = sha256). Each sample downloads it and applies it into a fresh state folder with the device's update
 * engine (`downloadOnce`, `RuntimeInstaller`). Baselines, interleaved with it: `curl` of the same URL (download), and `gzip -dc` of the
 * artifact followed by `sync` of the file (apply: the same decompression, written durably); `cp` + `sync` of the
 * binary shows what the decompression costs.
 */
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { RELEASE_JWS_TYPE, type ReleaseManifest } from '../../src/protocol/release.js';
import { readBundle, writeBundle } from '../../src/protocol/release-bundle.js';
import { openDatabase } from '../../src/storage/index.js';
import { identityMigrations } from '../../src/edge/migrations/index.js';
import { downloadOnce } from '../../src/edge/update/download.js';
import { RuntimeInstaller } from '../../src/edge/update/runtime-installer.js';
import { ensureDir, updatePaths } from '../../src/edge/update/state-files.js';
import { readPrivateKey, signJws } from '../release/lib.js';
import { ROOT, runToEnd } from './lib/proc.js';
import type { BenchResult, Preset } from './lib/result.js';
import { ratio, summarize, type TableRow } from './lib/stats.js';

const TOKEN = 'bench-edge-token';
const VERSION = '9.9.9-bench';

/** Serves one artifact as the site server's route does: bearer token, `Range: bytes=N-`, ETag = sha256. */
async function serveArtifact(file: string, sha256: string): Promise<{ url: string; server: Server }> {
  const size = statSync(file).size;
  const server = createServer((req, res) => {
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return void res.writeHead(401).end();
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    if (start >= size) return void res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
    res.writeHead(range ? 206 : 200, {
      'content-type': 'application/octet-stream',
      'content-length': size - start,
      'accept-ranges': 'bytes',
      etag: `"${sha256}"`,
      ...(range ? { 'content-range': `bytes ${start}-${size - 1}/${size}` } : {}),
    });
    createReadStream(file, { start }).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/artifact`, server };
}

/**
 * Download and apply, timed separately, with the device's own update engine steps: `downloadOnce` (streamed
 * download with sha256 into `update/downloads/<sha256>.part`, fsynced as it goes) and the `RuntimeInstaller`
 * (gunzip into `releases/<version>/`, fsync, rename, identity snapshot, trial record, `current` swapped by rename).
 */
async function downloadAndInstall(
  url: string,
  manifest: ReleaseManifest,
  stateDir: string,
): Promise<{ downloadMs: number; applyMs: number }> {
  const paths = updatePaths(stateDir);
  ensureDir(paths.update);
  ensureDir(paths.downloads);
  const part = join(paths.downloads, `${manifest.sha256}.part`);
  const t0 = performance.now();
  await downloadOnce({
    target: { url, token: TOKEN, siteUrl: new URL(url).origin, brokerUrl: 'mqtt://127.0.0.1:1883' },
    partialPath: part,
    offset: 0,
    size: manifest.size,
    sha256: manifest.sha256,
    maxKbps: () => undefined,
    onProgress: () => {},
    signal: new AbortController().signal,
  });
  const t1 = performance.now();
  const { db } = await openDatabase({ path: join(stateDir, 'identity.db'), migrations: identityMigrations });
  try {
    await new RuntimeInstaller({ paths, db, trialSeconds: () => 120 }).install({ manifest }, part);
  } finally {
    db.close();
  }
  rmSync(part);
  return { downloadMs: t1 - t0, applyMs: performance.now() - t1 };
}

/** A runtime bundle of `binary` signed with the development key, as `npm run release` makes it. */
async function makeBundle(binary: string, dir: string): Promise<{ artifact: string; manifest: ReleaseManifest }> {
  const bytes = readFileSync(binary);
  const gz = gzipSync(bytes, { level: 9 });
  const manifest: ReleaseManifest = {
    kind: 'runtime',
    name: 'consystence-edge',
    version: VERSION,
    arch: 'x64',
    size: gz.length,
    sha256: createHash('sha256').update(gz).digest('hex'),
    compression: 'gzip',
    installedSize: bytes.length,
    createdAt: new Date().toISOString(),
  };
  const key = readPrivateKey(join(ROOT, 'keys', 'dev', 'release-signing.private.jwk'));
  const bundle = join(dir, 'bench.bundle');
  await writeBundle(bundle, await signJws(key, RELEASE_JWS_TYPE, manifest), gz);
  // The site server serves the artifact alone: the bytes after the manifest line.
  const { artifactOffset } = await readBundle(bundle);
  const artifact = join(dir, 'artifact');
  writeFileSync(artifact, readFileSync(bundle).subarray(artifactOffset));
  return { artifact, manifest };
}

export async function updateBench(binary: string, preset: Preset, log: (t: string) => void): Promise<BenchResult> {
  const work = mkdtempSync(join(tmpdir(), 'cst-bench-update-'));
  let server: Server | undefined;
  try {
    log('  making a runtime bundle of the binary …');
    const { artifact, manifest } = await makeBundle(binary, work);
    const served = await serveArtifact(artifact, manifest.sha256);
    server = served.server;
    const curl = (await runToEnd('curl', ['--version'])).code === 0;
    const samples = {
      download: [] as number[],
      apply: [] as number[],
      curl: [] as number[],
      cp: [] as number[],
      gunzip: [] as number[],
    };
    // One unrecorded warm-up of each, then interleaved runs, so drift on the machine hits all alike.
    for (let i = 0; i <= preset.updateRuns; i++) {
      const state = join(work, `state-${i}`);
      mkdirSync(state, { mode: 0o700 });
      const engine = await downloadAndInstall(served.url, manifest, state);
      let curlMs = Number.NaN;
      if (curl) {
        const t = performance.now();
        const got = await runToEnd('curl', [
          '-sf',
          '-H',
          `Authorization: Bearer ${TOKEN}`,
          '-o',
          join(state, 'curl'),
          served.url,
        ]);
        if (got.code !== 0) throw new Error(`curl failed (exit ${got.code})`);
        curlMs = performance.now() - t;
      }
      const t = performance.now();
      const copied = await runToEnd('sh', ['-c', 'cp "$1" "$2" && sync "$2"', 'sh', binary, join(state, 'cp')]);
      if (copied.code !== 0) throw new Error(`cp failed: ${copied.stderr}`);
      const cpMs = performance.now() - t;
      const t2 = performance.now();
      const unzipped = await runToEnd('sh', [
        '-c',
        'gzip -dc "$1" > "$2" && sync "$2"',
        'sh',
        artifact,
        join(state, 'gz'),
      ]);
      if (unzipped.code !== 0) throw new Error(`gzip -dc failed: ${unzipped.stderr}`);
      const gunzipMs = performance.now() - t2;
      rmSync(state, { recursive: true, force: true });
      if (i === 0) continue;
      samples.download.push(engine.downloadMs);
      samples.apply.push(engine.applyMs);
      if (curl) samples.curl.push(curlMs);
      samples.cp.push(cpMs);
      samples.gunzip.push(gunzipMs);
    }
    const row = (name: string, values: number[], baseline?: number[]): TableRow => {
      const summary = values.length ? summarize(values) : null;
      return {
        case: name,
        summary,
        unit: 'ms',
        ...(baseline
          ? { ratio: baseline.length && summary ? ratio(summary.median, summarize(baseline).median) : null }
          : { role: 'baseline' }),
      };
    };
    const total = samples.download.map((d, i) => d + samples.apply[i]!);
    const baselineTotal = curl ? samples.curl.map((c, i) => c + samples.gunzip[i]!) : samples.gunzip;
    const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
    return {
      name: 'update',
      title: `Update: download and apply a runtime bundle (${mib(manifest.size)} gzip, ${mib(manifest.installedSize)} installed)`,
      tables: [
        {
          title: 'download over loopback HTTP (Range, sha256 streamed)',
          rows: [
            ...(curl ? [row('curl of the same URL', samples.curl)] : []),
            row('device download', samples.download, curl ? samples.curl : undefined),
          ],
        },
        {
          title: 'apply (gunzip, fsync, rename, link swap)',
          rows: [
            row('gzip -dc + sync of the artifact', samples.gunzip),
            row('device apply', samples.apply, samples.gunzip),
            row('cp + sync of the binary (no decompression)', samples.cp, samples.gunzip),
          ],
        },
        {
          title: 'download + apply',
          rows: [
            row(curl ? 'curl + gzip -dc + sync' : 'gzip -dc + sync', baselineTotal),
            row('device total', total, baselineTotal),
          ],
        },
      ],
      targets: [],
      notes: [
        "the device side is the update engine's own download (`downloadOnce`) and runtime installer (identity snapshot and trial record included)",
        ...(curl ? [] : ['curl is not installed: no download baseline']),
      ],
      extra: { samples, artifactBytes: manifest.size, installedBytes: manifest.installedSize },
    };
  } finally {
    server?.close();
    rmSync(work, { recursive: true, force: true });
  }
}
