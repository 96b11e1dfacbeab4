/**
 * The artifact download: resumable, rate-limited, hashed as it streams. The partial file lives at
 * `update/downloads/<sha256>.part`; `offset` (persisted in the job row by `onProgress`, only after an fsync) is
 * how many of its bytes are certain. A resume truncates the file to that offset, hashes the kept part again and
 * asks for `Range: bytes=<offset>-`; a 200 to that request restarts from zero. A wrong size, sha256 or ETag
 * deletes the partial file (`HASH_MISMATCH`): keeping it would make every retry fail the same way.
 *
 * The edge token goes only to the site server's origin, never over http while MQTT is mqtts (the rule of the
 * support-bundle upload, `checkedUploadUrl`), and an https URL trusts the site CA delivered at pairing.
 */
import { createHash, type Hash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { sleep } from '../../common/time/sleep.js';
import { checkedUploadUrl, hostOf } from '../diagnostics/upload.js';
import { pinnedTlsOptions } from '../session/tls.js';
import { UpdateRefused } from './prechecks.js';

export interface DownloadTarget {
  url: string;
  token: string;
  siteUrl: string;
  brokerUrl: string;
  caPem?: string;
}

export interface DownloadOptions {
  target: DownloadTarget;
  partialPath: string;
  /** Certain bytes of the partial file (from the job row). */
  offset: number;
  size: number;
  sha256: string;
  /** Kilobits per second (config `update.maxDownloadKbps`); undefined = unlimited. Read per chunk. */
  maxKbps: () => number | undefined;
  /** Called with a new certain offset, after the bytes below it were fsynced. */
  onProgress: (offset: number) => void;
  signal: AbortSignal;
  /** No byte for this long ends the attempt (the link died without a FIN). Default 30 s. */
  readTimeoutMs?: number;
  /** How often the offset is made durable. Default every 4 MiB or 2 s. */
  syncEveryBytes?: number;
}

const SYNC_EVERY_MS = 2000;

/** A transient failure: the next attempt resumes from the persisted offset. */
export class DownloadInterrupted extends Error {
  override readonly name = 'DownloadInterrupted';
}

const isEnospc = (error: unknown) => (error as NodeJS.ErrnoException)?.code === 'ENOSPC';

/** One attempt. Resolves once the whole artifact is on disk and matches; throws `UpdateRefused` or `DownloadInterrupted`. */
export async function downloadOnce(options: DownloadOptions): Promise<void> {
  const url = checkedUrl(options.target);
  let handle: FileHandle;
  try {
    handle = await open(options.partialPath, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  } catch (error) {
    if (isEnospc(error)) throw await spaceRefusal(options);
    throw error;
  }
  try {
    let offset = Math.min(options.offset, options.size);
    await handle.truncate(offset);
    const hash = await hashPrefix(handle, offset);
    if (offset === options.size) return await finish(handle, hash, offset, options);
    const res = await get(url, options, offset);
    if (res.statusCode === 200 && offset > 0) {
      // The server ignored the Range: start again from zero rather than append the whole file to a part of it.
      offset = 0;
      await handle.truncate(0);
      hash.hash = createHash('sha256');
      options.onProgress(0);
    } else if (res.statusCode === 206) {
      const start = /^bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''))?.[1];
      if (Number(start) !== offset) {
        res.destroy();
        throw new DownloadInterrupted(`the server answered a range from ${start} to a request from ${offset}`);
      }
    } else if (res.statusCode !== 200) {
      res.resume();
      throw httpRefusal(res.statusCode ?? 0, offset);
    }
    const etag = String(res.headers.etag ?? '')
      .replace(/^W\//, '')
      .replaceAll('"', '');
    if (etag && etag !== options.sha256) {
      res.destroy();
      await discard(options);
      throw new UpdateRefused('HASH_MISMATCH', 'the server serves another artifact than the manifest names (ETag)');
    }
    offset = await receive(res, handle, hash, offset, options);
    await finish(handle, hash, offset, options);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

function checkedUrl(target: DownloadTarget): URL {
  try {
    return checkedUploadUrl(target.url, target, 'artifact URL');
  } catch (error) {
    throw new UpdateRefused('DOWNLOAD_FAILED', (error as Error).message);
  }
}

async function spaceRefusal(options: DownloadOptions): Promise<UpdateRefused> {
  await rm(options.partialPath, { force: true }).catch(() => undefined);
  return new UpdateRefused(
    'INSUFFICIENT_SPACE',
    'the disk filled up during the download; the partial file was removed',
  );
}

async function discard(options: DownloadOptions): Promise<void> {
  await rm(options.partialPath, { force: true });
  options.onProgress(0);
}

function httpRefusal(status: number, offset: number): Error {
  if (status === 416)
    return new DownloadInterrupted(`the server has fewer than ${offset} bytes of the artifact; starting again`);
  if (status >= 500 || status === 429) return new DownloadInterrupted(`the site server answered ${status}`);
  const why =
    status === 401
      ? 'refused the edge token'
      : status === 403
        ? 'says this device is not in the campaign'
        : status === 404
          ? 'does not know the campaign'
          : status === 410
            ? 'says the campaign is over (cancelled)'
            : `answered ${status}`;
  return new UpdateRefused('DOWNLOAD_FAILED', `the site server ${why}`);
}

/** The kept bytes are hashed again from the file: the hash state does not survive a restart. */
async function hashPrefix(handle: FileHandle, length: number): Promise<{ hash: Hash }> {
  const hash = createHash('sha256');
  const buffer = Buffer.alloc(1024 * 1024);
  for (let at = 0; at < length; ) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, length - at), at);
    if (bytesRead === 0) break;
    hash.update(buffer.subarray(0, bytesRead));
    at += bytesRead;
  }
  return { hash };
}

function get(url: URL, options: DownloadOptions, offset: number): Promise<IncomingMessage> {
  const secure = url.protocol === 'https:';
  const send = secure ? httpsRequest : httpRequest;
  const readTimeoutMs = options.readTimeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: 'GET',
        headers: {
          authorization: `Bearer ${options.target.token}`,
          ...(offset > 0 ? { range: `bytes=${offset}-` } : {}),
        },
        agent: false,
        timeout: readTimeoutMs,
        signal: options.signal,
        ...(secure ? pinnedTlsOptions(hostOf(url), options.target.caPem) : {}),
      },
      resolve,
    );
    // The socket timeout covers the body too: no byte for readTimeoutMs ends the attempt.
    req.on('timeout', () => req.destroy(new DownloadInterrupted(`no data for ${readTimeoutMs / 1000} s`)));
    req.on('error', (error) =>
      reject(
        error instanceof DownloadInterrupted ? error : new DownloadInterrupted(`the download failed: ${error.message}`),
      ),
    );
    req.end();
  });
}

async function receive(
  res: IncomingMessage,
  handle: FileHandle,
  state: { hash: Hash },
  start: number,
  options: DownloadOptions,
): Promise<number> {
  let offset = start;
  let synced = start;
  let lastSync = performance.now();
  const paceStart = performance.now();
  let paced = 0;
  const syncEvery = options.syncEveryBytes ?? 4 * 1024 * 1024;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      if (offset + chunk.length > options.size) {
        res.destroy();
        await discard(options);
        throw new UpdateRefused('HASH_MISMATCH', `the server sent more than the ${options.size} bytes of the manifest`);
      }
      try {
        await handle.write(chunk, 0, chunk.length, offset);
      } catch (error) {
        res.destroy();
        if (isEnospc(error)) throw await spaceRefusal(options);
        throw error;
      }
      state.hash.update(chunk);
      offset += chunk.length;
      paced += chunk.length;
      if (offset - synced >= syncEvery || performance.now() - lastSync >= SYNC_EVERY_MS) {
        await handle.sync();
        options.onProgress(offset);
        synced = offset;
        lastSync = performance.now();
      }
      // Pacing: the bytes so far may not arrive faster than the limit allows; the socket waits (backpressure).
      const kbps = options.maxKbps();
      if (kbps) {
        const due = (paced * 8) / kbps - (performance.now() - paceStart);
        if (due > 0) await sleep(due, { signal: options.signal });
      }
      if (options.signal.aborted) throw new DownloadInterrupted('the download was stopped');
    }
  } catch (error) {
    if (error instanceof UpdateRefused || error instanceof DownloadInterrupted) throw error;
    throw new DownloadInterrupted(`the download broke off at byte ${offset}: ${(error as Error).message}`);
  } finally {
    if (offset > synced) {
      // What did arrive is kept for the next attempt.
      await handle
        .sync()
        .then(() => options.onProgress(offset))
        .catch(() => undefined);
    }
  }
  return offset;
}

async function finish(handle: FileHandle, state: { hash: Hash }, offset: number, options: DownloadOptions) {
  if (offset < options.size)
    throw new DownloadInterrupted(`the server ended the artifact at byte ${offset} of ${options.size}`);
  await handle.sync();
  options.onProgress(offset);
  if (state.hash.digest('hex') !== options.sha256) {
    await discard(options);
    throw new UpdateRefused('HASH_MISMATCH', 'the artifact does not match the sha256 of its manifest; it was deleted');
  }
}
