/**
 * Keeps the device key out of core dumps when the runtime runs outside its systemd unit (where LimitCORE=0 is
 * the only guard): RLIMIT_CORE is set to 0 and the process is made non-dumpable before any state is read.
 *
 * - Bun (the compiled binary): libc's setrlimit and prctl(PR_SET_DUMPABLE, 0) through bun:ffi. Non-dumpable also
 *   stops other processes of the same user from ptrace-attaching or reading /proc/<pid>/mem.
 * - Node has neither call without a native addon: RLIMIT_CORE is lowered from outside with util-linux's
 *   `prlimit --pid`, which any process may do to its own user's processes; the process stays dumpable.
 */
import { spawnSync } from 'node:child_process';

/** Linux's numbers, the same on x86-64 and arm64 (asm-generic). */
const RLIMIT_CORE = 4;
const PR_SET_DUMPABLE = 4;

export interface CoreDumpGuard {
  coreLimitZero: boolean;
  /** undefined: this runtime cannot make itself non-dumpable (Node). */
  nonDumpable?: boolean;
}

export async function forbidCoreDumps(): Promise<CoreDumpGuard> {
  if (process.platform !== 'linux') return { coreLimitZero: false };
  if (typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined') return forbidUnderBun();
  const result = spawnSync('prlimit', ['--pid', String(process.pid), '--core=0:0'], {
    stdio: 'ignore',
    timeout: 5_000,
  });
  return { coreLimitZero: result.status === 0 };
}

async function forbidUnderBun(): Promise<CoreDumpGuard> {
  const { dlopen, ptr } = await import('bun:ffi');
  const libc = dlopen('libc.so.6', {
    setrlimit: { args: ['i32', 'ptr'], returns: 'i32' },
    prctl: { args: ['i32', 'u64', 'u64', 'u64', 'u64'], returns: 'i32' },
  });
  try {
    const zero = new BigUint64Array([0n, 0n]); // struct rlimit { rlim_cur, rlim_max }
    const coreLimitZero = libc.symbols.setrlimit(RLIMIT_CORE, ptr(zero)) === 0;
    const nonDumpable = libc.symbols.prctl(PR_SET_DUMPABLE, 0n, 0n, 0n, 0n) === 0;
    return { coreLimitZero, nonDumpable };
  } finally {
    libc.close();
  }
}
