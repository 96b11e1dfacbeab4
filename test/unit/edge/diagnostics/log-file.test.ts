/** The runtime's own log file: bounded, rotated, owner-only, never through a link, and a dead disk never throws. */
import { execFileSync } from 'node:child_process';
import {
  chownSync,
  closeSync,
  constants,
  existsSync,
  linkSync,
  openSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RotatingLogFile } from '../../../../src/edge/diagnostics/log-file.js';
import { createRuntimeLog } from '../../../../src/edge/diagnostics/runtime-log.js';
import { tempDir } from '../../../helpers/tmp.js';

const line = (i: number) =>
  `${JSON.stringify({ ts: new Date().toISOString(), level: 'info', event: 'x', i, pad: 'p'.repeat(80) })}\n`;

describe('rotating log file', () => {
  it('keeps at most `files` files of at most `sizeKb`, newest in edge.log, mode 0600', () => {
    const dir = tempDir('cst-log-');
    const file = new RotatingLogFile(dir, { sizeKb: 1, files: 3 });
    for (let i = 0; i < 100; i++) file.write(line(i));
    file.close();
    for (const name of ['edge.log', 'edge.log.1', 'edge.log.2']) {
      expect(statSync(join(dir, name)).size, name).toBeLessThanOrEqual(1024);
      expect(statSync(join(dir, name)).mode & 0o777).toBe(0o600);
    }
    expect(existsSync(join(dir, 'edge.log.3'))).toBe(false);
    expect(readFileSync(join(dir, 'edge.log'), 'utf8')).toContain('"i":99');
    expect(readFileSync(join(dir, 'edge.log.2'), 'utf8')).not.toContain('"i":0,');
  });

  it('drops the files past a smaller count, and keeps none at size 0', () => {
    const dir = tempDir('cst-log-');
    const file = new RotatingLogFile(dir, { sizeKb: 1, files: 3 });
    for (let i = 0; i < 100; i++) file.write(line(i));
    file.setLimits({ sizeKb: 1, files: 1 });
    expect(existsSync(join(dir, 'edge.log.1'))).toBe(false);
    file.setLimits({ sizeKb: 0, files: 1 });
    const size = statSync(join(dir, 'edge.log')).size;
    file.write(line(1000));
    expect(statSync(join(dir, 'edge.log')).size).toBe(size);
  });

  it('refuses to write through a link planted in the state dir, and says so once', () => {
    const dir = tempDir('cst-log-');
    const target = join(tempDir('cst-log-target-'), 'victim');
    writeFileSync(target, 'untouched');
    symlinkSync(target, join(dir, 'edge.log'));
    const failures: string[] = [];
    const file = new RotatingLogFile(dir, { sizeKb: 1, files: 2 }, (m) => failures.push(m));
    file.write(line(1));
    file.write(line(2));
    expect(readFileSync(target, 'utf8')).toBe('untouched');
    expect(failures).toHaveLength(1);
    expect(failures[0]).toContain('ELOOP');
  });

  it('refuses a named pipe planted as edge.log without blocking, with or without a reader, and says so once', () => {
    const dir = tempDir('cst-log-');
    const fifo = join(dir, 'edge.log');
    execFileSync('mkfifo', [fifo]);
    // No reader: a blocking open() would wait forever (the service holding the run lock). A reader: open succeeds.
    for (const withReader of [false, true]) {
      const reader = withReader ? openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK) : null;
      const failures: string[] = [];
      const file = new RotatingLogFile(dir, { sizeKb: 1, files: 2 }, (m) => failures.push(m));
      file.write(line(1));
      file.write(line(2));
      file.close();
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatch(reader === null ? /ENXIO/ : /named pipe/);
      if (reader !== null) closeSync(reader);
    }
    expect(statSync(fifo).isFIFO()).toBe(true);
  });

  it('refuses an edge.log with a second hard link (another file under a second name)', () => {
    const dir = tempDir('cst-log-');
    const other = join(dir, 'other');
    writeFileSync(other, 'untouched');
    linkSync(other, join(dir, 'edge.log'));
    const failures: string[] = [];
    new RotatingLogFile(dir, { sizeKb: 1, files: 2 }, (m) => failures.push(m)).write(line(1));
    expect(readFileSync(other, 'utf8')).toBe('untouched');
    expect(failures[0]).toContain('2 hard links');
  });

  it('rotates over a named pipe planted as edge.log.1 without opening it, and keeps logging', () => {
    const dir = tempDir('cst-log-');
    execFileSync('mkfifo', [join(dir, 'edge.log.1')]);
    const failures: string[] = [];
    const file = new RotatingLogFile(dir, { sizeKb: 1, files: 2 }, (m) => failures.push(m));
    for (let i = 0; i < 30; i++) file.write(line(i));
    file.close();
    expect(failures).toEqual([]);
    expect(statSync(join(dir, 'edge.log.1')).isFile()).toBe(true);
    expect(readFileSync(join(dir, 'edge.log'), 'utf8')).toContain('"i":29');
  });

  it.skipIf(process.getuid?.() !== 0)(
    'as root in the service account dir, hands edge.log to that account (skipped: needs root)',
    () => {
      const dir = tempDir('cst-log-');
      chownSync(dir, 65534, 65534);
      // One an older root run left (with a restore's mode), and the one rotation creates: both end up the account's, 0600.
      writeFileSync(join(dir, 'edge.log'), '', { mode: 0o600 });
      const file = new RotatingLogFile(dir, { sizeKb: 1, files: 2 });
      file.write(line(0));
      expect(statSync(join(dir, 'edge.log')).uid).toBe(65534);
      for (let i = 1; i < 30; i++) file.write(line(i));
      file.close();
      for (const name of ['edge.log', 'edge.log.1']) {
        expect(statSync(join(dir, name)).uid, name).toBe(65534);
        expect(statSync(join(dir, name)).gid, name).toBe(65534);
      }
    },
  );

  it('filters by the level a config push sets, for stderr and the file alike', () => {
    const dir = tempDir('cst-log-');
    const stderr: string[] = [];
    const log = createRuntimeLog({ stateDir: dir, level: 'info', stderr: (l) => stderr.push(l) });
    log.logger.debug('hidden_at_info');
    log.logger.info('shown_at_info');
    log.apply({ level: 'debug' });
    log.logger.debug('shown_at_debug');
    log.apply({ level: 'error' });
    log.logger.warn('hidden_at_error');
    log.apply(undefined); // back to the start-up level
    log.logger.info('shown_again');
    log.close();
    const events = stderr.map((l) => JSON.parse(l).event);
    expect(events).toEqual(['shown_at_info', 'shown_at_debug', 'shown_again']);
    expect(
      readFileSync(join(dir, 'edge.log'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).event),
    ).toEqual(events);
  });
});
