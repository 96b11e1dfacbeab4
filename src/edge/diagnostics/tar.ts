/**
 * A minimal ustar writer and reader: regular files only, enough for a support bundle, with no dependency. Names
 * are ASCII paths of at most 100 bytes (the bundle chooses its own names); every entry is owned by uid 0 with
 * the given mode and time, so a bundle unpacked by a technician never carries the device's user ids.
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

function header(entry: TarEntry, mtimeS: number): Buffer {
  // Relative printable ASCII only: nothing that unpacks outside the folder it is unpacked in.
  if (!/^[\x21-\x7e][\x20-\x7e]{0,99}$/.test(entry.name) || entry.name.startsWith('/') || entry.name.includes('..'))
    throw new Error(`tar entry name not allowed: ${JSON.stringify(entry.name.slice(0, 120))}`);
  const block = Buffer.alloc(BLOCK, 0);
  block.write(entry.name, 0, 100, 'ascii');
  block.write(octal(entry.mode ?? 0o600, 8), 100, 'ascii');
  block.write(octal(0, 8), 108, 'ascii'); // uid
  block.write(octal(0, 8), 116, 'ascii'); // gid
  block.write(octal(entry.data.length, 12), 124, 'ascii');
  block.write(octal(mtimeS, 12), 136, 'ascii');
  block.write('        ', 148, 'ascii'); // checksum is computed with this field as spaces
  block.write('0', 156, 'ascii'); // regular file
  block.write('ustar\0', 257, 'ascii');
  block.write('00', 263, 'ascii');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return block;
}

/** The entries as one .tar.gz. */
export function packTarGz(entries: readonly TarEntry[], mtime = new Date()): Buffer {
  const mtimeS = Math.floor(mtime.getTime() / 1000);
  const parts: Buffer[] = [];
  for (const entry of entries) {
    parts.push(header(entry, mtimeS), entry.data);
    const pad = (BLOCK - (entry.data.length % BLOCK)) % BLOCK;
    if (pad) parts.push(Buffer.alloc(pad, 0));
  }
  parts.push(Buffer.alloc(2 * BLOCK, 0)); // end of archive
  return gzipSync(Buffer.concat(parts));
}

/** Reads the regular files of a .tar.gz written by `packTarGz` (rig side: check a bundle's contents). */
export function unpackTarGz(gz: Buffer, maxBytes = 256 * 1024 * 1024): Map<string, Buffer> {
  const tar = gunzipSync(gz, { maxOutputLength: maxBytes });
  const files = new Map<string, Buffer>();
  let offset = 0;
  while (offset + BLOCK <= tar.length) {
    const block = tar.subarray(offset, offset + BLOCK);
    if (block.every((b) => b === 0)) break;
    const name = block.subarray(0, 100).toString('ascii').replace(/\0.*$/s, '');
    const size = Number.parseInt(block.subarray(124, 136).toString('ascii').replace(/\0.*$/s, '').trim() || '0', 8);
    if (!Number.isFinite(size) || size < 0 || offset + BLOCK + size > tar.length)
      throw new Error(`corrupt tar entry ${JSON.stringify(name)}`);
    if (block[156] === 0x30 || block[156] === 0) files.set(name, tar.subarray(offset + BLOCK, offset + BLOCK + size));
    offset += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  return files;
}
