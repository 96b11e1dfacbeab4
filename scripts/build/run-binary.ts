/**
 * How to run a compiled binary of an architecture on this machine: directly when it is the host's, through
 * qemu-user-static (with the arm64 cross libc) for arm64 on another host, or not at all (and why).
 */
import { existsSync } from 'node:fs';
import { type Arch, hostArch } from './targets.js';

const QEMU_AARCH64 = '/usr/bin/qemu-aarch64-static';
const AARCH64_SYSROOT = '/usr/aarch64-linux-gnu';

export function binaryCommand(
  file: string,
  arch: Arch,
  args: string[],
): { command: string; args: string[]; via: string } | { cannot: string } {
  if (arch === hostArch()) return { command: file, args, via: 'directly' };
  if (arch !== 'arm64' || !existsSync(QEMU_AARCH64) || !existsSync(AARCH64_SYSROOT))
    return { cannot: `cannot run linux-${arch} here (needs qemu-user-static and libc6-arm64-cross)` };
  return { command: QEMU_AARCH64, args: ['-L', AARCH64_SYSROOT, file, ...args], via: 'under qemu-aarch64-static' };
}
