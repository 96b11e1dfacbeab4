/**
 * Reads Linux system figures from /proc and /sys. Each reader returns null when its source is missing or
 * unreadable (containers, non-Linux dev machines, a sensor that vanished): metrics are best-effort, never fatal.
 */
import { readdir, readFile, statfs } from 'node:fs/promises';
import { join } from 'node:path';

export interface MetricPaths {
  procRoot: string;
  sysRoot: string;
}

export interface CpuTimes {
  idle: number;
  total: number;
}

async function text(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

/** The aggregate `cpu` line of /proc/stat; idle includes iowait (time the CPU could have worked). */
export async function readCpuTimes(paths: MetricPaths): Promise<CpuTimes | null> {
  const stat = await text(join(paths.procRoot, 'stat'));
  const line = stat?.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return null;
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  if (values.length < 4 || values.some((v) => !Number.isFinite(v))) return null;
  const idle = values[3]! + (values[4] ?? 0);
  // guest/guest_nice (fields 9-10) are already counted in user/nice.
  const total = values.slice(0, 8).reduce((a, b) => a + b, 0);
  return { idle, total };
}

export function cpuPercent(previous: CpuTimes, current: CpuTimes): number | null {
  const total = current.total - previous.total;
  if (total <= 0) return null;
  return Math.round(Math.min(100, Math.max(0, (1 - (current.idle - previous.idle) / total) * 100)) * 10) / 10;
}

export async function readMemory(paths: MetricPaths): Promise<{ totalBytes: number; usedBytes: number } | null> {
  const info = await text(join(paths.procRoot, 'meminfo'));
  if (!info) return null;
  const kb = (key: string) => {
    const match = new RegExp(`^${key}:\\s+(\\d+)\\s*kB`, 'm').exec(info);
    return match ? Number(match[1]) * 1024 : null;
  };
  const total = kb('MemTotal');
  const available = kb('MemAvailable');
  if (total === null || available === null) return null;
  return { totalBytes: total, usedBytes: total - available };
}

export async function readLoad(paths: MetricPaths): Promise<[number, number, number] | null> {
  const values = (await text(join(paths.procRoot, 'loadavg')))?.trim().split(/\s+/).slice(0, 3).map(Number);
  return values && values.length === 3 && values.every(Number.isFinite) ? (values as [number, number, number]) : null;
}

export async function readUptimeSeconds(paths: MetricPaths): Promise<number | null> {
  const value = Number((await text(join(paths.procRoot, 'uptime')))?.trim().split(/\s+/)[0]);
  return Number.isFinite(value) ? value : null;
}

export async function readDisk(dir: string): Promise<{ usedPercent: number; freeBytes: number } | null> {
  try {
    const s = await statfs(dir);
    const total = s.blocks * s.bsize;
    if (total <= 0) return null;
    // `bavail` (not `bfree`): what this unprivileged process can still write, which is what fills up first.
    const usedPercent = Math.round(((s.blocks - s.bavail) / s.blocks) * 1000) / 10;
    return { usedPercent, freeBytes: s.bavail * s.bsize };
  } catch {
    return null;
  }
}

/** Thermal zones as `{type, celsius}`; sysfs reports millidegrees. */
export async function readTemperatures(paths: MetricPaths): Promise<Array<{ type: string; celsius: number }>> {
  const base = join(paths.sysRoot, 'class/thermal');
  let zones: string[];
  try {
    zones = (await readdir(base)).filter((name) => /^thermal_zone\d+$/.test(name)).slice(0, 64);
  } catch {
    return [];
  }
  const out: Array<{ type: string; celsius: number }> = [];
  for (const zone of zones) {
    const raw = Number((await text(join(base, zone, 'temp')))?.trim());
    // Tag-safe type name (Jetson zones are e.g. "CPU-therm"); fall back to the zone's own name.
    const type = ((await text(join(base, zone, 'type')))?.trim() || zone)
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, '_')
      .slice(0, 64);
    if (Number.isFinite(raw)) out.push({ type, celsius: raw / 1000 });
  }
  return out;
}
