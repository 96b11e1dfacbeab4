/**
 * Where the mock cloud keeps uploaded bundle files: `<db file>.releases/` next to its database, or a temporary
 * directory (removed on close) for an in-memory cloud. An upload is streamed to `upload-<uuid>.part` while its
 * size is capped and its hashes computed in the same pass, then renamed to `<releaseId>.bundle` once verified;
 * a refused upload removes its part file. A crash can leave a part file, or a bundle whose row never committed:
 * both are swept at start.
 */
import { createHash, randomUUID } from 'node:crypto';
import { constants, rmSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, rename, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpError } from '../../common/http/http-error.js';
import { MAX_MANIFEST_JWS_BYTES } from '../../protocol/index.js';

/** What one pass over an upload learnt: the manifest line, and the size and SHA-256 of the artifact and of it all. */
export interface ReceivedBundle {
  partPath: string;
  manifestJws: string;
  artifactSize: number;
  artifactSha256: string;
  bundleSize: number;
  bundleSha256: string;
}

const NEWLINE = 0x0a;

export class ReleaseBundles {
  private constructor(
    readonly dir: string,
    private readonly temporary: boolean,
  ) {}

  /** `isRecorded` tells a bundle of a recorded release from one a crash left before its row committed. */
  static async open(dbPath: string | undefined, isRecorded: (releaseId: string) => boolean): Promise<ReleaseBundles> {
    if (!dbPath || dbPath === ':memory:')
      return new ReleaseBundles(await mkdtemp(join(tmpdir(), 'consystence-cloud-releases-')), true);
    const dir = `${dbPath}.releases`;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    for (const name of await readdir(dir)) {
      const bundleOf = /^(.+)\.bundle$/.exec(name)?.[1];
      if (name.endsWith('.part') || (bundleOf !== undefined && !isRecorded(bundleOf))) await unlink(join(dir, name));
    }
    return new ReleaseBundles(dir, false);
  }

  bundlePath(releaseId: string): string {
    return join(this.dir, `${releaseId}.bundle`);
  }

  /**
   * Streams a request body to a part file. Refuses (and removes the file) a body over `maxBytes` as soon as it
   * passes the cap, and one whose first line is not a manifest within `MAX_MANIFEST_JWS_BYTES`.
   */
  async receive(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<ReceivedBundle> {
    const partPath = join(this.dir, `upload-${randomUUID()}.part`);
    const file = await open(partPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    const bundleHash = createHash('sha256');
    const artifactHash = createHash('sha256');
    const head: Buffer[] = [];
    let headBytes = 0;
    let manifestJws: string | undefined;
    let bundleSize = 0;
    try {
      for await (const chunk of body ?? []) {
        bundleSize += chunk.length;
        if (bundleSize > maxBytes)
          throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `a bundle may be at most ${maxBytes} bytes`, undefined, {
            Connection: 'close',
          });
        await file.write(chunk);
        bundleHash.update(chunk);
        let artifactPart: Uint8Array = chunk;
        if (manifestJws === undefined) {
          const newline = chunk.indexOf(NEWLINE);
          const before = newline < 0 ? chunk : chunk.subarray(0, newline);
          head.push(Buffer.from(before));
          headBytes += before.length;
          if (headBytes > MAX_MANIFEST_JWS_BYTES)
            throw notABundle(`no manifest line within ${MAX_MANIFEST_JWS_BYTES} bytes`);
          if (newline < 0) continue;
          manifestJws = Buffer.concat(head).toString('latin1');
          artifactPart = chunk.subarray(newline + 1);
        }
        artifactHash.update(artifactPart);
      }
      await file.sync();
      await file.close();
    } catch (error) {
      await file.close().catch(() => undefined);
      await unlink(partPath).catch(() => undefined);
      throw error;
    }
    if (manifestJws === undefined) {
      await unlink(partPath);
      throw notABundle('it has no manifest line');
    }
    const artifactSize = bundleSize - Buffer.byteLength(manifestJws, 'latin1') - 1;
    return {
      partPath,
      manifestJws,
      artifactSize,
      artifactSha256: artifactHash.digest('hex'),
      bundleSize,
      bundleSha256: bundleHash.digest('hex'),
    };
  }

  /** Moves a verified upload to its place; `discard` undoes it if the database then refuses the release. */
  async keep(received: ReceivedBundle, releaseId: string): Promise<string> {
    const path = this.bundlePath(releaseId);
    await rename(received.partPath, path);
    return path;
  }

  async discard(path: string): Promise<void> {
    await unlink(path).catch(() => undefined);
  }

  close(): void {
    if (this.temporary) rmSync(this.dir, { recursive: true, force: true });
  }
}

function notABundle(why: string): HttpError {
  return new HttpError(400, 'BAD_MANIFEST', `the body is not a release bundle: ${why}`, undefined, {
    Connection: 'close',
  });
}
