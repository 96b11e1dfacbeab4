/**
 * What `npm run release` checks of a runtime binary before it signs it, so that a bundle never claims another
 * architecture or version than the binary's own (the device would install it and the fleet roll back):
 * the ELF header's machine (read, never run), and the version the binary itself reports (`version --json`, run
 * directly or under qemu-user-static; nothing else is trusted, not even out/build-info.json).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import type { ReleaseArch } from '../../src/protocol/release.js';
import { binaryCommand } from '../build/run-binary.js';
import { UsageError } from './lib.js';

/** e_machine of the ELF header (little-endian 64-bit): EM_X86_64 and EM_AARCH64. */
const ELF_MACHINE: Record<ReleaseArch, number> = { x64: 62, arm64: 183 };
const MACHINE_NAME: Record<number, string> = { 62: 'x86-64', 183: 'aarch64', 3: 'i386', 40: 'arm (32-bit)' };

/** The binary's e_machine, or why it is not a 64-bit little-endian ELF file. */
export function elfMachine(header: Buffer): number | string {
  if (header.length < 20 || header.readUInt32BE(0) !== 0x7f454c46) return 'not an ELF file';
  if (header[4] !== 2 || header[5] !== 1) return 'not a 64-bit little-endian ELF file';
  return header.readUInt16LE(18);
}

export function checkArch(binary: string, header: Buffer, arch: ReleaseArch): void {
  const machine = elfMachine(header);
  if (machine === ELF_MACHINE[arch]) return;
  const found =
    typeof machine === 'string' ? machine : `built for ${MACHINE_NAME[machine] ?? `ELF machine ${machine}`}`;
  throw new UsageError(`--binary ${binary} is ${found}, not linux-${arch}: refusing to sign it as --arch ${arch}`);
}

const VersionOutput = z.object({ version: z.string().min(1).max(64) });

/** The version the binary reports, or why it could not be asked. */
export function reportedVersion(binary: string, arch: ReleaseArch): { version: string } | { cannot: string } {
  const runner = binaryCommand(binary, arch, ['version', '--json']);
  if ('cannot' in runner) return runner;
  // From an empty folder with a bare environment: what it prints must come from the binary, not from around it.
  const cwd = mkdtempSync(join(tmpdir(), 'cst-release-version-'));
  try {
    const run = spawnSync(runner.command, runner.args, {
      cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (run.error) return { cannot: `could not run it: ${run.error.message}` };
    if (run.status !== 0) return { cannot: `\`${binary} version --json\` failed (exit ${run.status ?? run.signal})` };
    try {
      return VersionOutput.parse(JSON.parse(run.stdout));
    } catch {
      return { cannot: `\`${binary} version --json\` printed no version` };
    }
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

/** Refuses a version the binary does not report; one it cannot report is signed only with --unchecked-version. */
export function checkVersion(binary: string, arch: ReleaseArch, version: string, unchecked: boolean): void {
  const reported = reportedVersion(binary, arch);
  if ('version' in reported) {
    if (reported.version !== version)
      throw new UsageError(
        `--binary ${binary} reports version ${reported.version}, not ${version}: refusing to sign it as ${version}`,
      );
    return;
  }
  if (!unchecked)
    throw new UsageError(
      `could not check that ${binary} is version ${version} (${reported.cannot}); pass --unchecked-version to sign it anyway`,
    );
}
