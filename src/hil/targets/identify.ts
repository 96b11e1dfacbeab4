/**
 * What exactly is under test, for the reports: the device's own `version --json` (version, arch), and for the
 * binary targets the binary's sha256. Asking for the version is also the first proof that the rig can start the
 * device at all: when it cannot, the run stops with that reason as an `<error>`, before any scenario runs.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { DeviceIdentity } from '../report/types.js';
import { RigFault, shellCouldNotRun } from '../scenario-kit/errors.js';
import { parseLastJson, runCommand, type CommandResult } from '../../common/process/process.js';
import { localLauncher, type TargetConfig } from './index.js';
import { DEFAULT_BINARY_ARM64, DEFAULT_BINARY_X64 } from './paths.js';
import { renderTemplate } from './template.js';

const VERSION_TIMEOUT_MS = 120_000;
const VersionAnswer = z.object({ version: z.string().max(200), arch: z.string().max(64).optional() }).loose();

function binaryPath(config: TargetConfig): string | undefined {
  if (config.kind === 'binary') return config.binary ?? DEFAULT_BINARY_X64;
  if (config.kind === 'qemu-arm64') return config.binary ?? DEFAULT_BINARY_ARM64;
  return undefined;
}

function versionCommand(config: TargetConfig): Promise<CommandResult> {
  if (config.kind === 'remote') {
    const line = renderTemplate(config.remoteCmd ?? '', {
      ...(config.remoteHost ? { host: config.remoteHost } : {}),
      args: ['version', '--json'],
    });
    return runCommand('/bin/sh', ['-c', line], { timeoutMs: VERSION_TIMEOUT_MS });
  }
  const launcher = localLauncher(config);
  return runCommand(launcher.command, [...launcher.prefixArgs, 'version', '--json'], {
    timeoutMs: VERSION_TIMEOUT_MS,
    env: { ...process.env, ...launcher.env },
  });
}

/** Throws (a RigFault when the command could not run at all) when the device cannot even print its version. */
export async function identifyDevice(config: TargetConfig): Promise<DeviceIdentity> {
  const result = await versionCommand(config);
  const answer = VersionAnswer.safeParse(parseLastJson(result.stdout));
  if (result.code !== 0 || !answer.success) {
    const why = result.timedOut ? 'timed out' : `exited ${result.code ?? result.signal}`;
    const detail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-5).join('\n').slice(0, 1000);
    const message = `the device cannot start: 'version --json' ${why}${answer.success ? '' : ' without a version'}\n${detail}`;
    throw shellCouldNotRun(result.code) ? new RigFault(message) : new Error(message);
  }
  const binary = binaryPath(config);
  return {
    version: answer.data.version,
    ...(binary ? { sha256: createHash('sha256').update(readFileSync(binary)).digest('hex') } : {}),
    ...(answer.data.arch ? { arch: answer.data.arch } : {}),
  };
}
