/**
 * Rig hardware hooks: shell commands a rig supplies to cut power and network for real (a USB relay, a managed
 * switch port, an autokit). When given they replace the local stand-ins (SIGKILL, a namespace's link).
 */
import { RigFault } from '../scenario-kit/errors.js';
import { runHook } from '../../common/process/process.js';

export interface RigHooks {
  powerCycle?: string;
  netDown?: string;
  netUp?: string;
  /** The longest any hook may take. */
  timeoutMs: number;
  /** Aborted when the run is stopped (Ctrl-C): a running hook's process group is stopped with it. */
  signal?: AbortSignal;
}

/** Runs a hook; its failure (exit, timeout) is a rig fault, reported as an error and never blamed on the device. */
export async function runRigHook(name: string, commandLine: string, hooks: RigHooks): Promise<void> {
  try {
    await runHook(name, commandLine, hooks.timeoutMs, hooks.signal ? { signal: hooks.signal } : {});
  } catch (error) {
    throw new RigFault((error as Error).message);
  }
}
