/**
 * The arm64 binary (what an Orin runs) under qemu-user on an x64 rig: catches arm64-only build breakage without
 * hardware. Slow, so scenario timeouts are the same but each step takes longer. libfaketime cannot reach into
 * the emulated process, so the clock-in-past boot is not offered here.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import type { Launcher } from './local-process.js';

export const QEMU_BIN = process.env.QEMU_AARCH64 ?? '/usr/bin/qemu-aarch64-static';
/** The arm64 glibc the binary's loader needs (Debian: libc6-arm64-cross), as the build script's smoke test uses. */
export const ARM64_SYSROOT = process.env.QEMU_LD_PREFIX ?? '/usr/aarch64-linux-gnu';

export function qemuArm64Launcher(binaryPath: string): Launcher {
  if (!existsSync(QEMU_BIN))
    throw new Error(`${QEMU_BIN} is missing: apt-get install -y qemu-user-static (or set QEMU_AARCH64)`);
  try {
    accessSync(binaryPath, constants.R_OK);
  } catch {
    throw new Error(
      `the arm64 edge binary ${binaryPath} is missing; build it with 'npm run build:binary -- --arch arm64' or pass --binary PATH`,
    );
  }
  if (!existsSync(ARM64_SYSROOT))
    throw new Error(`${ARM64_SYSROOT} is missing: apt-get install -y libc6-arm64-cross (or set QEMU_LD_PREFIX)`);
  return {
    command: QEMU_BIN,
    prefixArgs: ['-L', ARM64_SYSROOT, binaryPath],
    clockInPastUnsupported: 'libfaketime cannot shift the clock inside qemu-user',
  };
}
