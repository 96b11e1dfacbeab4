/**
 * Memory and open files of a process, read from Linux /proc: the parent measures the site server (which it
 * cannot ask) and each worker measures itself the same way, so every row of the report means the same thing.
 * VmHWM is the kernel's own peak RSS, so no sampling interval can miss a spike. Elsewhere: null.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStats {
  rssMb: number;
  rssPeakMb: number;
  fds: number | null;
}

const kbToMb = (kb: number) => Math.round((kb / 1024) * 10) / 10;

export function procStats(pid: number | 'self'): ProcStats | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  const rss = field('VmRSS');
  const hwm = field('VmHWM');
  if (!Number.isFinite(rss)) return null;
  let fds: number | null = null;
  try {
    fds = readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    // another user's process, or it just exited: memory is still worth reporting
  }
  return { rssMb: kbToMb(rss), rssPeakMb: kbToMb(Number.isFinite(hwm) ? hwm : rss), fds };
}
