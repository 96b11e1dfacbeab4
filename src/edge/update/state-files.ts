/**
 * The files the update engine shares with the launcher under the state dir (layout in docs/updates.md):
 * releases, the `current`/`previous` links, partial downloads, the identity snapshot, and the `trial` and
 * `rollback` records (key=value lines, the only format a POSIX-sh launcher can read safely).
 */
import {
  closeSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readlinkSync,
  renameSync,
  symlinkSync,
  unlinkSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../../storage/index.js';

export const EXIT_RESTART_FOR_UPDATE = 75;
/** `previous` names this when the version to go back to is the packaged binary. */
export const FACTORY = 'factory';

export function updatePaths(stateDir: string) {
  const releases = join(stateDir, 'releases');
  const update = join(stateDir, 'update');
  return {
    stateDir,
    releases,
    release: (version: string) => join(releases, version),
    current: join(releases, 'current'),
    previous: join(releases, 'previous'),
    update,
    downloads: join(update, 'downloads'),
    partial: (sha256: string) => join(update, 'downloads', `${sha256}.part`),
    snapshotDir: join(update, 'snapshot'),
    snapshot: join(update, 'snapshot', 'identity.db'),
    trial: join(update, 'trial'),
    /** The launcher's own start counter for the trial. */
    trialStarts: join(update, 'trial-starts'),
    lastTrial: join(update, 'last-trial'),
    /** A trial record the launcher could not read, set aside for a look. */
    invalidTrial: join(update, 'trial.invalid'),
    rollback: join(update, 'rollback'),
  };
}
export type UpdatePaths = ReturnType<typeof updatePaths>;

/** Makes a folder of the layout (0700); an existing one that is not a real folder is refused. */
export function ensureDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  if (!lstatSync(path).isDirectory()) throw new Error(`${path} is not a folder`);
}

export interface TrialRecord {
  version: string;
  previous: string;
  windowS: number;
}
export interface RollbackRecord {
  from: string;
  to: string;
  reason: string;
  atUptime?: number;
}

/** key=value lines; anything unreadable (absent, a link, too long) is absent. */
function readRecord(path: string): Record<string, string> | undefined {
  try {
    if (!lstatSync(path).isFile()) return undefined;
    const text = readFileSync(path, 'utf8');
    if (text.length > 4096) return undefined;
    const out: Record<string, string> = {};
    for (const part of text.split(/\s+/)) {
      const eq = part.indexOf('=');
      if (eq > 0) out[part.slice(0, eq)] = part.slice(eq + 1);
    }
    return out;
  } catch {
    return undefined;
  }
}

export function readTrial(paths: UpdatePaths): TrialRecord | undefined {
  const r = readRecord(paths.trial);
  if (!r?.version || !r.previous) return undefined;
  return { version: r.version, previous: r.previous, windowS: Number(r.window_s) || 0 };
}

export function writeTrial(paths: UpdatePaths, trial: TrialRecord): void {
  writeFileAtomic(
    paths.trial,
    `version=${trial.version}\nprevious=${trial.previous}\nwindow_s=${trial.windowS}\nsnapshot=update/snapshot/identity.db\n`,
  );
}

export function readRollback(paths: UpdatePaths): RollbackRecord | undefined {
  const r = readRecord(paths.rollback);
  if (!r?.from || !r.to || !r.reason) return undefined;
  return { from: r.from, to: r.to, reason: r.reason, ...(r.at_uptime ? { atUptime: Number(r.at_uptime) } : {}) };
}

/** Where a release link points (`<version>` or `factory`), or undefined when there is none. */
export function linkTarget(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Points `path` at `target` atomically: a new link under a temporary name, renamed over the old one, so after a
 * power cut the link names the old target or the new, never nothing.
 */
export function swapLink(path: string, target: string): void {
  const temp = `${path}.new`;
  try {
    unlinkSync(temp);
  } catch {
    // none left by an earlier attempt
  }
  symlinkSync(target, temp);
  renameSync(temp, path);
  fsyncDir(dirname(path));
}

/** Makes a rename or unlink in `dir` durable before the next step depends on it. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function removeIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
