/** What a support engineer asks first about the machine: kernel, distro, disk, memory, uptime, temperatures. */
import { readFileSync } from 'node:fs';
import { arch, cpus, hostname, release, version as osVersion } from 'node:os';
import { readDisk, readLoad, readMemory, readTemperatures, readUptimeSeconds } from '../metrics/readers.js';

const PATHS = { procRoot: '/proc', sysRoot: '/sys' };

function small(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').slice(0, 8192);
  } catch {
    return null;
  }
}

/** `/etc/os-release` as key → value (quotes removed). */
function osRelease(): Record<string, string> | null {
  const text = small('/etc/os-release');
  if (!text) return null;
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match) out[match[1]!] = match[2]!.replace(/^"(.*)"$/, '$1');
  }
  return out;
}

export async function systemFacts(stateDir: string): Promise<Record<string, unknown>> {
  return {
    hostname: hostname(),
    kernel: { release: release(), version: osVersion(), proc: small('/proc/version')?.trim() ?? null },
    distro: osRelease(),
    // JetPack's L4T release line on an Orin; absent elsewhere.
    l4t: small('/etc/nv_tegra_release')?.trim() ?? null,
    arch: arch(),
    cpus: cpus().length,
    uptimeS: await readUptimeSeconds(PATHS),
    load: await readLoad(PATHS),
    memory: await readMemory(PATHS),
    stateDirDisk: await readDisk(stateDir),
    thermal: await readTemperatures(PATHS),
  };
}
