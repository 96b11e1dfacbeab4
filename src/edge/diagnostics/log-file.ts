/**
 * The runtime's own recent logs, kept in the state dir next to stderr (journald), so a support bundle can read
 * them without root or journald. Bounded: `files` files of at most `sizeKb` each (`edge.log`, `edge.log.1`, …),
 * the oldest dropped on rotation; owner-only (0600) and the state dir owner's; never follows a link, never writes a
 * named pipe or a hard-linked file the service user planted (see `open`). A failing disk never stops the service:
 * the file is given up with one line on stderr, and logging goes on to stderr alone.
 */
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  openSync,
  renameSync,
  rmSync,
  type Stats,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { adoptFolderOwner } from '../../storage/file-trust.js';

export const LOG_FILE = 'edge.log';
export interface LogFileLimits {
  /** Size of each file in KiB; 0 keeps no file. */
  sizeKb: number;
  /** How many files, the current one included. */
  files: number;
}
export const DEFAULT_LOG_FILE_LIMITS: LogFileLimits = { sizeKb: 1024, files: 2 };

/** The log files, newest first (`edge.log`, `edge.log.1`, …), as rotation names them. */
export function logFileNames(files: number): string[] {
  return Array.from({ length: files }, (_, i) => (i === 0 ? LOG_FILE : `${LOG_FILE}.${i}`));
}
/** The most files any configuration can ask for (the bundle reads this many). */
export const MAX_LOG_FILES = 10;

/** Why an opened `edge.log` is not a file this service may write, or undefined when it is. */
function notOwnLogFile(stats: Stats): string | undefined {
  if (stats.isFIFO()) return 'a named pipe, not a regular file';
  if (!stats.isFile()) return 'not a regular file';
  if (stats.nlink !== 1) return `a file with ${stats.nlink} hard links, maybe another file under a second name`;
  return undefined;
}

export class RotatingLogFile {
  private fd: number | null = null;
  private size = 0;
  private failed = false;

  constructor(
    private readonly dir: string,
    private limits: LogFileLimits = DEFAULT_LOG_FILE_LIMITS,
    private readonly onFailure: (message: string) => void = () => {},
  ) {}

  setLimits(limits: LogFileLimits): void {
    const fewer = limits.files < this.limits.files;
    this.limits = limits;
    if (fewer) for (const name of logFileNames(MAX_LOG_FILES).slice(limits.files)) this.remove(name);
    if (limits.sizeKb === 0) this.closeFd();
  }

  write(line: string): void {
    if (this.failed || this.limits.sizeKb === 0) return;
    try {
      const bytes = Buffer.from(line);
      if (this.fd === null) this.open();
      if (this.size > 0 && this.size + bytes.length > this.limits.sizeKb * 1024) {
        this.rotate();
        this.open();
      }
      writeSync(this.fd!, bytes);
      this.size += bytes.length;
    } catch (error) {
      // The state dir is made when the database opens, after the first lines: wait for it, do not give up.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && this.fd === null) return;
      this.failed = true;
      this.closeFd();
      this.onFailure(
        `the log file in ${this.dir} cannot be written (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); logging to stderr only`,
      );
    }
  }

  close(): void {
    this.closeFd();
  }

  private open(): void {
    // The state dir belongs to the service user, who may plant anything there. O_NOFOLLOW: a link must not make us
    // write elsewhere; O_NONBLOCK: a named pipe must not block open() (and a root `run` holding the run lock) forever.
    const fd = openSync(
      join(this.dir, LOG_FILE),
      constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK,
      0o600,
    );
    try {
      const stats = fstatSync(fd);
      const refusal = notOwnLogFile(stats);
      if (refusal) throw new Error(`${LOG_FILE} is ${refusal}`);
      // Owner-only even when restored or left by an older version with a wider mode (O_CREAT's mode is for new files).
      if (stats.mode & 0o077) fchmodSync(fd, 0o600);
      // A root `run` in the service account's dir hands the file to that account, which must keep writing it later.
      adoptFolderOwner(fd, this.dir);
      this.fd = fd;
      this.size = stats.size;
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  private rotate(): void {
    this.closeFd();
    const names = logFileNames(this.limits.files);
    this.remove(names[names.length - 1]!);
    for (let i = names.length - 2; i >= 0; i--) {
      try {
        renameSync(join(this.dir, names[i]!), join(this.dir, names[i + 1]!));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    if (names.length === 1) this.remove(LOG_FILE);
  }

  private remove(name: string): void {
    rmSync(join(this.dir, name), { force: true });
  }

  private closeFd(): void {
    if (this.fd === null) return;
    try {
      closeSync(this.fd);
    } catch {
      // Already gone: nothing to release.
    }
    this.fd = null;
    this.size = 0;
  }
}
