/** The machine a bench ran on, recorded next to every result (absolute numbers mean nothing without it). */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { BUN } from './proc.js';

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  os: string;
  node: string;
  bun: string;
  mosquitto: string | null;
  loadAverage1m: number;
  gitCommit: string | null;
  gitDirty: boolean | null;
}

function firstLine(command: string, args: string[]): string | null {
  const run = spawnSync(command, args, { encoding: 'utf8', timeout: 10_000 });
  if (run.status !== 0 && !run.stdout && !run.stderr) return null;
  return (
    `${run.stdout}${run.stderr}`
      .split('\n')
      .find((l) => l.trim())
      ?.trim() ?? null
  );
}

function osName(): string {
  try {
    return /PRETTY_NAME="?([^"\n]+)"?/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function machineInfo(): MachineInfo {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    cpuModel = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpuModel;
  } catch {
    /* keep os.cpus() */
  }
  const git = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' });
  return {
    nproc: Number(firstLine('nproc', [])) || cpus().length,
    cpuModel,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: firstLine('uname', ['-r']) ?? 'unknown',
    os: osName(),
    node: process.version,
    bun: firstLine(BUN, ['--version']) ?? 'not found',
    mosquitto: firstLine('/usr/sbin/mosquitto', ['-h'])?.replace(/^mosquitto version /, '') ?? null,
    loadAverage1m: Math.round(loadavg()[0]! * 100) / 100,
    gitCommit: firstLine('git', ['rev-parse', '--short', 'HEAD']),
    gitDirty: git.status === 0 ? git.stdout.trim() !== '' : null,
  };
}

export function describeMachine(m: MachineInfo): string {
  return `${m.nproc} cores ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.os}, Linux ${m.kernel}, Node ${m.node}, Bun ${m.bun}${m.mosquitto ? `, mosquitto ${m.mosquitto}` : ''} (load ${m.loadAverage1m} at start)`;
}
