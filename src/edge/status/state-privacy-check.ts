/**
 * doctor's row for the state folder's privacy: a WARN when other users can look into the folder or read a file in
 * it (a restore under umask 022 leaves 0755 and 0644). The queue and the keys are the device's secrets. `run`
 * makes every database it opens owner-only again, but not the folder, and doctor itself only reads.
 */
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { describeMode } from '../../storage/accounts.js';
import type { CheckResult } from './doctor.js';

/** Group or other bits: the state is owner-only (folder 0700, files 0600). */
const SHARED = 0o077;

export function statePrivacyCheck(stateDir: string): CheckResult {
  let dir: Stats;
  try {
    dir = lstatSync(stateDir);
  } catch {
    return { name: 'state-privacy', level: 'skip', ok: true, detail: `${stateDir} does not exist yet` };
  }
  const exposed: string[] = [];
  if (dir.isDirectory() && dir.mode & SHARED) exposed.push(`${stateDir} (${describeMode(dir.mode)})`);
  for (const name of dir.isDirectory() ? readdirSync(stateDir).sort() : []) {
    let stats: Stats;
    try {
      stats = lstatSync(join(stateDir, name));
    } catch {
      continue; // removed meanwhile (SQLite's -wal/-shm)
    }
    if (stats.isFile() && stats.mode & SHARED) exposed.push(`${name} (${describeMode(stats.mode)})`);
  }
  if (exposed.length === 0) {
    return { name: 'state-privacy', level: 'ok', ok: true, detail: `${stateDir} and its files are owner-only` };
  }
  return {
    name: 'state-privacy',
    level: 'warn',
    ok: true,
    detail: `other users may read the device's state: ${exposed.join(', ')}`,
    // find -type f: a plain `chmod DIR/*` would follow a link planted in the folder.
    fix: `chmod 0700 ${stateDir} && find ${stateDir} -maxdepth 1 -type f -exec chmod 0600 {} +`,
  };
}
