/**
 * Rig hardware hooks: shell commands a rig supplies to cut power and network for real (a USB relay, a managed
 * switch port, an autokit). When given they replace the local stand-ins (SIGKILL, a namespace's link).
 */
export interface RigHooks {
  powerCycle?: string;
  netDown?: string;
  netUp?: string;
  /** The longest any hook may take. */
  timeoutMs: number;
}
