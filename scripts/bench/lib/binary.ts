/**
 * The compiled x64 binary the device benches run: `out/consystence-edge-linux-x64`, rebuilt with
 * `bun scripts/build-binary.ts --arch x64` (the same build as `npm run build:binary`) when it is missing or older
 * than any source it is built from. If that rebuild fails (a colleague's half-finished edit in the shared tree)
 * and an older binary exists, the bench uses it and says so.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BUN, ROOT, runToEnd } from './proc.js';

export const BINARY = join(ROOT, 'out', 'consystence-edge-linux-x64');
const SOURCES = [
  'src/edge',
  'src/protocol',
  'src/storage',
  'src/common',
  'keys',
  'scripts/build-binary.ts',
  'scripts/build',
  'package.json',
];

function newestMtime(path: string): number {
  const abs = join(ROOT, path);
  if (!existsSync(abs)) return 0;
  const stat = statSync(abs);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(abs)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

export interface BinaryInfo {
  path: string;
  bytes: number;
  sha256: string | null;
  bytecode: boolean | null;
  buildTime: string | null;
  rebuilt: boolean;
  note?: string;
}

export async function ensureBinary(log: (text: string) => void, force = false): Promise<BinaryInfo> {
  const sourcesAt = Math.max(...SOURCES.map(newestMtime));
  const stale = !existsSync(BINARY) || statSync(BINARY).mtimeMs < sourcesAt;
  let rebuilt = false;
  let note: string | undefined;
  if (stale || force) {
    log(`building ${BINARY} (${existsSync(BINARY) ? 'older than its sources' : 'missing'}) …`);
    const started = Date.now();
    const build = await runToEnd(BUN, ['scripts/build-binary.ts', '--arch', 'x64'], { timeoutMs: 300_000 });
    if (build.code === 0) {
      rebuilt = true;
      log(`  built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    } else if (existsSync(BINARY)) {
      note = `rebuild failed (exit ${build.code}), using the existing binary from ${statSync(BINARY).mtime.toISOString()}: ${build.stderr.trim().split('\n').slice(-3).join(' | ')}`;
      log(`  ${note}`);
    } else {
      throw new Error(`npm run build:binary failed (exit ${build.code}):\n${build.stderr.slice(-2000)}`);
    }
  }
  let info: { binaries?: { x64?: { sha256?: string; bytecode?: boolean; buildTime?: string } } } = {};
  try {
    info = JSON.parse(readFileSync(join(ROOT, 'out', 'build-info.json'), 'utf8'));
  } catch {
    /* no build info */
  }
  const x64 = info.binaries?.x64;
  return {
    path: BINARY,
    bytes: statSync(BINARY).size,
    sha256: x64?.sha256 ?? null,
    bytecode: x64?.bytecode ?? null,
    buildTime: x64?.buildTime ?? null,
    rebuilt,
    ...(note ? { note } : {}),
  };
}
