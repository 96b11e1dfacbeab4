/**
 * A minimal ustar writer and reader with no dependency: support bundles (issue 14) and model bundles (issue 13).
 *
 * The writer makes regular files only. Names are relative printable ASCII, split into ustar's `prefix` (155) and
 * `name` (100) fields at a `/` when longer than 100 bytes; every entry is owned by uid 0 with the given mode and
 * time, so an archive never carries the device's user ids.
 *
 * The reader (`UstarReader`) is fed chunks and reports each entry's header and data as they arrive, so an archive
 * of any size is read in constant memory. It reports every entry type as it is (links, devices, pax headers):
 * deciding what to refuse is the caller's job, since a support bundle and a model install refuse different things.
 */
import { gunzipSync, gzipSync } from 'node:zlib';

export interface TarEntry {
  name: string;
  data: Buffer;
  /** Default 0o600: a bundle is the device's private account. */
  mode?: number;
}

const BLOCK = 512;

function octal(value: number, width: number): string {
  // width - 1 digits and a NUL, as ustar readers expect.
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

/** `name` as ustar's (prefix, name) pair, or an error: relative printable ASCII, no `..`, at most 255 bytes. */
function splitName(name: string): { prefix: string; base: string } {
  const refuse = () => new Error(`tar entry name not allowed: ${JSON.stringify(name.slice(0, 120))}`);
  if (!/^[\x21-\x7e][\x20-\x7e]*$/.test(name) || name.startsWith('/') || name.includes('..')) throw refuse();
  if (name.length <= 100) return { prefix: '', base: name };
  // The last `/` that leaves at most 100 bytes after it and at most 155 before it.
  for (let slash = name.indexOf('/'); slash >= 0; slash = name.indexOf('/', slash + 1)) {
    if (slash <= 155 && name.length - slash - 1 <= 100 && slash > 0)
      return { prefix: name.slice(0, slash), base: name.slice(slash + 1) };
  }
  throw refuse();
}

function header(entry: TarEntry, mtimeS: number): Buffer {
  const { prefix, base } = splitName(entry.name);
  const block = Buffer.alloc(BLOCK, 0);
  block.write(base, 0, 100, 'ascii');
  block.write(octal(entry.mode ?? 0o600, 8), 100, 'ascii');
  block.write(octal(0, 8), 108, 'ascii'); // uid
  block.write(octal(0, 8), 116, 'ascii'); // gid
  block.write(octal(entry.data.length, 12), 124, 'ascii');
  block.write(octal(mtimeS, 12), 136, 'ascii');
  block.write('        ', 148, 'ascii'); // checksum is computed with this field as spaces
  block.write('0', 156, 'ascii'); // regular file
  block.write('ustar\0', 257, 'ascii');
  block.write('00', 263, 'ascii');
  block.write(prefix, 345, 155, 'ascii');
  block.write(`${checksum(block).toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return block;
}

/** The header checksum: the byte sum with the checksum field itself counted as spaces. */
function checksum(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return sum;
}

/** The entries as one uncompressed ustar archive (end marker included). */
export function packTar(entries: readonly TarEntry[], mtime = new Date()): Buffer {
  const mtimeS = Math.floor(mtime.getTime() / 1000);
  const parts: Buffer[] = [];
  for (const entry of entries) {
    parts.push(header(entry, mtimeS), entry.data);
    const pad = (BLOCK - (entry.data.length % BLOCK)) % BLOCK;
    if (pad) parts.push(Buffer.alloc(pad, 0));
  }
  parts.push(Buffer.alloc(2 * BLOCK, 0)); // end of archive
  return Buffer.concat(parts);
}

/** The entries as one .tar.gz. */
export function packTarGz(entries: readonly TarEntry[], mtime = new Date()): Buffer {
  return gzipSync(packTar(entries, mtime));
}

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';

export interface TarHeader {
  /** `prefix/name` as stored (not normalised: the caller judges it). */
  path: string;
  type: TarEntryType;
  /** The raw type flag, for messages (`x` pax header, `3` character device, …). */
  typeflag: string;
  size: number;
  mode: number;
}

export interface TarHandlers {
  entry(header: TarHeader): void;
  /** The entry's content, in order; never called for an empty entry. */
  data(chunk: Buffer): void;
  /** The entry's last byte has been passed to `data`. */
  entryEnd(): void;
}

const TYPES: Record<string, TarEntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '5': 'directory',
  '2': 'symlink',
  '1': 'hardlink',
};

const field = (block: Buffer, start: number, length: number) =>
  block
    .subarray(start, start + length)
    .toString('latin1')
    .replace(/\0.*$/s, '');

function parseOctal(block: Buffer, start: number, length: number, what: string): number {
  const text = field(block, start, length).trim();
  if (!/^[0-7]*$/.test(text)) throw new Error(`corrupt tar header: ${what} is not octal`);
  return text === '' ? 0 : Number.parseInt(text, 8);
}

/** Push-driven ustar reader: `push` chunks in order, then `finish`. Throws on a damaged or truncated archive. */
export class UstarReader {
  private pending = Buffer.alloc(0);
  /** Bytes of the current entry's content still to pass on, then padding to skip. */
  private remaining = 0;
  private padding = 0;
  private ended = false;

  constructor(private readonly handlers: TarHandlers) {}

  push(chunk: Buffer): void {
    let buffer = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (buffer.length > 0 && !this.ended) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, buffer.length);
        this.handlers.data(buffer.subarray(0, take));
        buffer = buffer.subarray(take);
        this.remaining -= take;
        if (this.remaining === 0) this.handlers.entryEnd();
        continue;
      }
      if (this.padding > 0) {
        const skip = Math.min(this.padding, buffer.length);
        buffer = buffer.subarray(skip);
        this.padding -= skip;
        continue;
      }
      if (buffer.length < BLOCK) break;
      this.header(buffer.subarray(0, BLOCK));
      buffer = buffer.subarray(BLOCK);
    }
    // Only a partial header is ever kept (< 512 bytes); content passes straight through.
    this.pending = this.ended ? Buffer.alloc(0) : Buffer.from(buffer);
  }

  /** The archive ended: it must have reached its end-of-archive block, with no entry cut short. */
  finish(): void {
    if (!this.ended) throw new Error('the tar archive is truncated (no end-of-archive block)');
  }

  private header(block: Buffer): void {
    if (block.every((b) => b === 0)) {
      this.ended = true;
      return;
    }
    if (parseOctal(block, 148, 8, 'checksum') !== checksum(block)) throw new Error('corrupt tar header: bad checksum');
    const name = field(block, 0, 100);
    const prefix = field(block, 257, 6) === 'ustar' ? field(block, 345, 155) : '';
    const typeflag = String.fromCharCode(block[156]!);
    const size = parseOctal(block, 124, 12, 'size');
    const type = TYPES[typeflag] ?? 'other';
    this.handlers.entry({
      path: prefix ? `${prefix}/${name}` : name,
      type,
      typeflag,
      size,
      mode: parseOctal(block, 100, 8, 'mode'),
    });
    // Links and directories carry no content even if a header claims a size; everything else does.
    const content = type === 'symlink' || type === 'hardlink' || type === 'directory' ? 0 : size;
    this.remaining = content;
    this.padding = (BLOCK - (content % BLOCK)) % BLOCK;
    if (content === 0) this.handlers.entryEnd();
  }
}

/** Reads the regular files of a small .tar.gz (rig side: check a support bundle's contents). */
export function unpackTarGz(gz: Buffer, maxBytes = 256 * 1024 * 1024): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  let current: { path: string; file: boolean; parts: Buffer[] } | undefined;
  const reader = new UstarReader({
    entry: (h) => (current = { path: h.path, file: h.type === 'file', parts: [] }),
    data: (chunk) => current?.parts.push(chunk),
    entryEnd: () => {
      if (current?.file) files.set(current.path, Buffer.concat(current.parts));
    },
  });
  reader.push(gunzipSync(gz, { maxOutputLength: maxBytes }));
  reader.finish();
  return files;
}
