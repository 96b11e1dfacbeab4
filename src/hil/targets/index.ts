/** Picks the target implementation for `--target`; the only place that knows every kind. */
import { binaryLauncher } from './binary.js';
import type { RigHooks } from './hooks.js';
import { bunLauncher } from './local-bun.js';
import { nodeLauncher } from './local-node.js';
import { LocalProcessTarget, type Launcher } from './local-process.js';
import { DEFAULT_BINARY_ARM64, DEFAULT_BINARY_X64 } from './paths.js';
import { qemuArm64Launcher } from './qemu-arm64.js';
import { RemoteTarget } from './remote.js';
import type { DeviceSpec, DeviceTarget, TargetKind } from './types.js';

export interface TargetConfig {
  kind: TargetKind;
  binary?: string;
  remoteCmd?: string;
  remoteHost?: string;
  remoteStateDir: string;
  hooks: RigHooks;
}

export type TargetFactory = (spec: DeviceSpec) => DeviceTarget;

/** Validates the target's prerequisites once (binary exists, qemu installed) and returns a per-scenario factory. */
export function targetFactory(config: TargetConfig): TargetFactory {
  if (config.kind === 'remote') {
    if (!config.remoteCmd)
      throw new Error("--target remote needs --remote-cmd, e.g. 'ssh -tt root@{host} consystence-edge {args}'");
    const options = {
      template: config.remoteCmd,
      stateRoot: config.remoteStateDir,
      ...(config.remoteHost ? { host: config.remoteHost } : {}),
    };
    return (spec) => new RemoteTarget(options, spec, config.hooks);
  }
  const launcher = localLauncher(config);
  return (spec) => new LocalProcessTarget(config.kind, launcher, spec, config.hooks);
}

export function localLauncher(config: TargetConfig): Launcher {
  switch (config.kind) {
    case 'local-node':
      return nodeLauncher();
    case 'local-bun':
      return bunLauncher();
    case 'binary':
      return binaryLauncher(config.binary ?? DEFAULT_BINARY_X64);
    case 'qemu-arm64':
      return qemuArm64Launcher(config.binary ?? DEFAULT_BINARY_ARM64);
    default:
      throw new Error(`not a local target: ${config.kind}`);
  }
}
