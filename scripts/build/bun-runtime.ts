/**
 * The Bun runtime that a cross-compiled binary is built around. `bun build --target=bun-linux-arm64` would download
 * it from GitHub on every clean machine, which our build hosts cannot reach; the same binary is published on the
 * npm registry as `@oven/bun-linux-aarch64`, so we fetch it once with `npm pack` (which checks the registry's
 * integrity hash), keep it in the user cache, and hand it to Bun as `compile.executablePath`. Later builds are
 * offline.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readSync,
  closeSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { ARCHES, cacheDir, hostArch, type Arch } from './targets.js';

/** ELF e_machine values: a wrong or truncated download must fail here, not as a mysterious binary later. */
const ELF_MACHINE: Record<Arch, number> = { x64: 0x3e, arm64: 0xb7 };

export interface Runtime {
  /** Path to pass as `executablePath`, or undefined to let Bun use itself (host arch). */
  executablePath: string | undefined;
  /** Where it came from, for build-info.json. */
  source: string;
}

export function bunRuntimeFor(arch: Arch, bunVersion: string): Runtime {
  if (arch === hostArch()) return { executablePath: undefined, source: `host bun ${bunVersion}` };
  const pkg = `${ARCHES[arch].npmRuntime}@${bunVersion}`;
  const dir = join(cacheDir(), 'bun-runtime', `${ARCHES[arch].bunTarget}-v${bunVersion}`);
  const executable = join(dir, 'bun');
  if (!existsSync(executable)) download(pkg, dir, arch);
  assertElf(executable, arch);
  return { executablePath: executable, source: `npm ${pkg} (cached in ${dir})` };
}

function download(pkg: string, dir: string, arch: Arch): void {
  console.log(`fetching the ${arch} Bun runtime once: npm pack ${pkg}`);
  mkdirSync(join(dir, '..'), { recursive: true });
  const work = mkdtempSync(`${dir}.partial-`);
  try {
    const [packed] = JSON.parse(run('npm', ['pack', pkg, '--json', '--pack-destination', work])) as Array<{
      filename: string;
      integrity: string;
    }>;
    if (!packed) throw new Error(`npm pack ${pkg} reported no tarball`);
    run('tar', ['-xzf', join(work, packed.filename), '-C', work, 'package/bin/bun']);
    chmodSync(join(work, 'package/bin/bun'), 0o755);
    writeFileSync(join(work, 'package/bin/INTEGRITY'), `${pkg} ${packed.integrity}\n`);
    assertElf(join(work, 'package/bin/bun'), arch);
    // Rename the finished folder into place so an interrupted download never looks like a cached runtime.
    renameSync(join(work, 'package/bin'), dir);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function assertElf(file: string, arch: Arch): void {
  const header = Buffer.alloc(20);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, header, 0, header.length, 0);
  } finally {
    closeSync(fd);
  }
  if (header.readUInt32BE(0) !== 0x7f454c46 || header.readUInt16LE(18) !== ELF_MACHINE[arch]) {
    throw new Error(`${file} is not a linux-${arch} ELF executable; delete it to download it again`);
  }
}

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} failed (exit ${result.status ?? result.signal}): ${result.error?.message ?? result.stderr.trim()}`,
    );
  }
  return result.stdout;
}
