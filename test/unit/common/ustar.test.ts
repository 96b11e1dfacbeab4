/** The ustar writer, checked against the system's GNU tar (an independent reader), and its own reader. */
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packTar, packTarGz, UstarReader, unpackTarGz } from '../../../src/common/tar/ustar.js';
import { tempDir } from '../../helpers/tmp.js';

const entries = [
  { name: 'b/empty.txt', data: Buffer.alloc(0) },
  { name: 'b/one-block.json', data: Buffer.from('x'.repeat(512)) },
  { name: 'b/logs/edge.log', data: Buffer.from(`${'line é\n'.repeat(300)}`) },
];

describe('tar', () => {
  it('writes archives GNU tar lists and extracts byte for byte, files owner-only', () => {
    const dir = tempDir('cst-tar-');
    const file = join(dir, 'a.tar.gz');
    writeFileSync(file, packTarGz(entries, new Date('2026-01-02T03:04:05Z')));
    expect(execFileSync('tar', ['-tzf', file], { encoding: 'utf8' }).trim().split('\n')).toEqual(
      entries.map((e) => e.name),
    );
    execFileSync('tar', ['-xzf', file, '-C', dir]);
    for (const entry of entries) {
      expect(readFileSync(join(dir, entry.name)).equals(entry.data), entry.name).toBe(true);
      expect(statSync(join(dir, entry.name)).mode & 0o777).toBe(0o600);
    }
    expect(statSync(join(dir, 'b/empty.txt')).mtime.toISOString()).toBe('2026-01-02T03:04:05.000Z');
  });

  it('reads back what it wrote', () => {
    const files = unpackTarGz(packTarGz(entries));
    expect([...files.keys()]).toEqual(entries.map((e) => e.name));
    expect(files.get('b/logs/edge.log')!.equals(entries[2]!.data)).toBe(true);
  });

  it('refuses names that could escape or do not fit ustar', () => {
    for (const name of ['../etc/passwd', '/abs', 'a'.repeat(101), 'tab\there', ''])
      expect(() => packTarGz([{ name, data: Buffer.alloc(1) }]), name).toThrow(/not allowed/);
  });
});

describe('long names and the streaming reader', () => {
  it('stores a name over 100 bytes in the prefix field, read back by GNU tar and by UstarReader', () => {
    const dir = tempDir('cst-tar-');
    const long = `${'models/'.repeat(20)}weights.onnx`;
    const file = join(dir, 'long.tar.gz');
    writeFileSync(file, packTarGz([{ name: long, data: Buffer.from('w') }]));
    expect(execFileSync('tar', ['-tzf', file], { encoding: 'utf8' }).trim()).toBe(long);
    expect([...unpackTarGz(readFileSync(file)).keys()]).toEqual([long]);
    expect(() => packTar([{ name: `${'a'.repeat(160)}/b`, data: Buffer.alloc(1) }])).toThrow(/not allowed/);
  });

  it('reports the same entries whether fed at once or one byte at a time', () => {
    const tar = packTar(entries);
    const read = (chunkSize: number) => {
      const events: string[] = [];
      const reader = new UstarReader({
        entry: (h) => events.push(`entry ${h.path} ${h.type} ${h.size}`),
        data: (chunk) => events.push(`data ${chunk.toString('latin1')}`),
        entryEnd: () => events.push('end'),
      });
      for (let i = 0; i < tar.length; i += chunkSize) reader.push(tar.subarray(i, i + chunkSize));
      reader.finish();
      // Join data events so chunking does not change the comparison.
      return events.join('|').replace(/\|data /g, '');
    };
    expect(read(1)).toBe(read(tar.length));
    expect(read(tar.length)).toContain('entry b/empty.txt file 0');
  });

  it('refuses a damaged header and a truncated archive', () => {
    const tar = packTar(entries);
    const handlers = { entry: () => {}, data: () => {}, entryEnd: () => {} };
    const damaged = Buffer.from(tar);
    damaged[10] = 0x41;
    expect(() => new UstarReader(handlers).push(damaged)).toThrow(/bad checksum/);
    const cut = new UstarReader(handlers);
    cut.push(tar.subarray(0, 1024));
    expect(() => cut.finish()).toThrow(/truncated/);
  });
});
