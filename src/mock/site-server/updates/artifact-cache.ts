/**
 * Release artifacts on the site server's disk, fetched from the cloud once per sha256 however many campaigns
 * name it. A bundle streams to `<releaseId>.bundle.part` and resumes with `Range` from what is on disk when a
 * fetch is cut; once complete, its manifest line is verified against the trusted release keys and must describe
 * the campaign's artifact, then the artifact after it is copied out while hashed, checked for size and sha256,
 * and renamed into place as `<sha256>.artifact`. A refused bundle is deleted (a retry would fetch the same bytes).
 * Files are 0600 in a 0700 dir; a file found at start is served only after its sha256 is checked again.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MAX_BUNDLE_BYTES, ReleaseVerificationError, type UpdateFailure } from '../../../protocol/index.js';
import {
  BundleError,
  hashArtifact,
  openArtifactStream,
  readBundle,
  type BundleLayout,
} from '../../../protocol/release-bundle.js';
import type { Logger } from '../../../common/log/log.js';
import { BUNDLE_IDLE_TIMEOUT_MS, CloudError, type CloudClient } from '../upstream/cloud-client.js';
import type { ReleaseTrust } from './release-trust.js';

/** The artifact a campaign's verified manifest describes, and the release (bundle) it comes in. */
export interface ArtifactRequest {
  releaseId: string;
  releaseKeys?: string;
  sha256: string;
  size: number;
}

export type ArtifactOutcome =
  | { ok: true }
  /** The bundle is bad: report it, never offer it. */
  | { ok: false; refused: UpdateFailure }
  /** The fetch did not finish (cloud down, connection cut): tried again at the next sync, from where it stopped. */
  | { ok: false; retry: string };

class Refused extends Error {
  constructor(readonly failure: UpdateFailure) {
    super(failure.message);
  }
}

/** Copies the artifact of the bundle at `part` to `copyTo` while hashing it: its size and sha256. */
async function copyArtifact(part: string, offset: number, copyTo: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(
    await openArtifactStream(part, offset),
    tap,
    createWriteStream(copyTo, { mode: 0o600, flags: 'wx', flush: true }),
  );
  return { size, sha256: hash.digest('hex') };
}

export class ArtifactCache {
  private readonly verified = new Set<string>();
  private readonly inFlight = new Map<string, Promise<ArtifactOutcome>>();
  /** Aborts every download when the server stops. */
  private readonly closing = new AbortController();

  constructor(
    private readonly dir: string,
    private readonly cloud: CloudClient,
    private readonly siteToken: string,
    private readonly trust: ReleaseTrust,
    private readonly logger: Logger,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /** Where a verified artifact is; only meaningful once `isReady`. */
  path(sha256: string): string {
    return join(this.dir, `${sha256}.artifact`);
  }

  isReady(sha256: string): boolean {
    return this.verified.has(sha256);
  }

  /** Makes the artifact ready: checked on disk, else fetched (one fetch per sha256 at a time). */
  ensure(request: ArtifactRequest): Promise<ArtifactOutcome> {
    if (this.verified.has(request.sha256)) return Promise.resolve({ ok: true });
    let running = this.inFlight.get(request.sha256);
    if (!running) {
      running = this.prepare(request).finally(() => this.inFlight.delete(request.sha256));
      this.inFlight.set(request.sha256, running);
    }
    return running;
  }

  private async prepare(request: ArtifactRequest): Promise<ArtifactOutcome> {
    const target = this.path(request.sha256);
    if (existsSync(target)) {
      const held = await hashArtifact(target);
      if (held.size === request.size && held.sha256 === request.sha256) {
        this.verified.add(request.sha256);
        return { ok: true };
      }
      this.logger.warn('update_artifact_damaged', { sha256: request.sha256, note: 'fetching it again' });
      await rm(target, { force: true });
    }
    const part = join(this.dir, `${request.releaseId}.bundle.part`);
    try {
      await this.download(request.releaseId, part);
    } catch (error) {
      if (error instanceof Refused) return this.refuse(request, part, error.failure);
      // 416: the part file is as long as the bundle or longer (a crash after the last byte, or not this bundle's
      // bytes). Start over rather than trust it; the manifest and hash checks would refuse a wrong one for good.
      if (error instanceof CloudError && error.status === 416) await rm(part, { force: true });
      return { ok: false, retry: (error as Error).message };
    }
    try {
      await this.extract(request, part, target);
    } catch (error) {
      if (error instanceof Refused) return this.refuse(request, part, error.failure);
      throw error;
    }
    this.verified.add(request.sha256);
    this.logger.info('update_artifact_ready', { releaseId: request.releaseId, sha256: request.sha256 });
    return { ok: true };
  }

  private async refuse(request: ArtifactRequest, part: string, failure: UpdateFailure): Promise<ArtifactOutcome> {
    await rm(part, { force: true });
    this.logger.error('update_bundle_refused', { releaseId: request.releaseId, reason: failure });
    return { ok: false, refused: failure };
  }

  /** Streams the bundle into `part`, resuming after what is already there. Throws on any cut. */
  private async download(releaseId: string, part: string): Promise<void> {
    const offset = existsSync(part) ? statSync(part).size : 0;
    const controller = new AbortController();
    let idle: NodeJS.Timeout | undefined;
    const touch = () => {
      clearTimeout(idle);
      idle = setTimeout(
        () => controller.abort(new Error(`no bytes for ${BUNDLE_IDLE_TIMEOUT_MS} ms`)),
        BUNDLE_IDLE_TIMEOUT_MS,
      );
    };
    touch();
    try {
      const signal = AbortSignal.any([controller.signal, this.closing.signal]);
      const response = await this.cloud.bundle(this.siteToken, releaseId, offset, signal);
      // A 206 must continue exactly where the file ends; anything else starts the file over.
      const resumes = response.status === 206 && response.headers.get('content-range')?.startsWith(`bytes ${offset}-`);
      let written = resumes ? offset : 0;
      this.logger.info('update_bundle_fetching', { releaseId, offset: resumes ? offset : 0 });
      const cap = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          touch();
          written += chunk.length;
          if (written > MAX_BUNDLE_BYTES)
            done(new Refused({ code: 'BAD_MANIFEST', message: `the bundle is larger than ${MAX_BUNDLE_BYTES} bytes` }));
          else done(null, chunk);
        },
      });
      if (!response.body) throw new Error('the cloud sent no bundle body');
      await pipeline(
        Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>),
        cap,
        createWriteStream(part, { flags: resumes ? 'a' : 'w', mode: 0o600, flush: true }),
        { signal },
      );
    } finally {
      clearTimeout(idle);
    }
  }

  /** Verifies the downloaded bundle and moves its artifact into place. */
  private async extract(request: ArtifactRequest, part: string, target: string): Promise<void> {
    let layout: BundleLayout;
    try {
      layout = await readBundle(part);
    } catch (error) {
      if (error instanceof BundleError) throw new Refused({ code: 'BAD_MANIFEST', message: error.message });
      throw error;
    }
    let manifest: Awaited<ReturnType<ReleaseTrust['verify']>>;
    try {
      manifest = await this.trust.verify(layout.manifestJws, request.releaseKeys);
    } catch (error) {
      if (error instanceof ReleaseVerificationError)
        throw new Refused({ code: error.code, message: `the bundle's manifest: ${error.message}` });
      throw error;
    }
    if (manifest.sha256 !== request.sha256 || manifest.size !== request.size)
      throw new Refused({
        code: 'BAD_MANIFEST',
        message: "the bundle's manifest describes another artifact than the campaign's",
      });
    const tmp = `${target}.tmp`;
    try {
      rmSync(tmp, { force: true });
      const held = await copyArtifact(part, layout.artifactOffset, tmp);
      if (held.size !== request.size || held.sha256 !== request.sha256)
        throw new Refused({
          code: 'HASH_MISMATCH',
          message: `the artifact is ${held.size} bytes with sha256 ${held.sha256}; its manifest says ${request.size} bytes, ${request.sha256}`,
        });
      await rename(tmp, target);
    } finally {
      rmSync(tmp, { force: true });
    }
    await rm(part, { force: true });
  }

  /** Stops the downloads under way (their partial files stay, to be resumed at the next start). */
  async close(): Promise<void> {
    this.closing.abort(new Error('the site server is stopping'));
    await Promise.allSettled(this.inFlight.values());
  }
}
