/**
 * Update fixtures: release bundles signed with the committed development key (or another), uploaded to the real
 * mock cloud by its platform admin; campaigns approved by the site admin (through the cloud's client); the site server's log, captured to
 * count what it did (fetches); an edge's `P/update` as a queue of messages.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createHash, randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { MqttClient } from 'mqtt';
import { expect } from 'vitest';
import { createLogger, type Logger } from '../../../../src/common/log/log.js';
import { DEMO_PASSWORD, DEMO_PLATFORM_ADMIN, MockCloudClient } from '../../../../src/mock/cloud/index.js';
import { RELEASE_JWS_TYPE } from '../../../../src/protocol/index.js';
import { writeBundle } from '../../../../src/protocol/release-bundle.js';
import { readPrivateKey, signJws, type PrivateReleaseJwk } from '../../../../scripts/release/lib.js';
import { ROOT } from '../../../helpers/process.js';
import { tempDir } from '../../../helpers/tmp.js';
import { waitFor } from '../../../helpers/wait.js';
import type { CloudSite } from './site.js';

export const DEV_RELEASE_KEY: PrivateReleaseJwk = readPrivateKey(resolve(ROOT, 'keys/dev/release-signing.private.jwk'));

export interface TestRelease {
  path: string;
  manifestJws: string;
  artifact: Buffer;
  sha256: string;
  version: string;
}

/** A runtime bundle of a random "binary", signed by `key`; `tamper` flips a byte of the artifact after signing. */
export async function makeBundle(
  version: string,
  options: { key?: PrivateReleaseJwk; bytes?: number; tamper?: boolean } = {},
): Promise<TestRelease> {
  const binary = randomBytes(options.bytes ?? 256 * 1024);
  const artifact = gzipSync(binary);
  const sha256 = createHash('sha256').update(artifact).digest('hex');
  const manifestJws = await signJws(options.key ?? DEV_RELEASE_KEY, RELEASE_JWS_TYPE, {
    kind: 'runtime',
    name: 'consystence-edge',
    version,
    arch: 'x64',
    size: artifact.length,
    sha256,
    compression: 'gzip',
    installedSize: binary.length,
    createdAt: new Date().toISOString(),
  });
  const shipped = Buffer.from(artifact);
  if (options.tamper) shipped[shipped.length >> 1]! ^= 0xff;
  const path = join(tempDir('cst-bundle-'), `consystence-edge-${version}.bundle`);
  await writeBundle(path, manifestJws, shipped);
  return { path, manifestJws, artifact, sha256, version };
}

/** What a platform admin and a site admin do in the cloud, through its client (real HTTP). */
export class CloudUpdates {
  private constructor(
    private readonly site: CloudSite,
    private readonly platform: MockCloudClient,
  ) {}

  static async of(site: CloudSite): Promise<CloudUpdates> {
    const platform = new MockCloudClient(site.cloudUrl);
    await platform.login(DEMO_PLATFORM_ADMIN, DEMO_PASSWORD);
    return new CloudUpdates(site, platform);
  }

  async upload(release: TestRelease): Promise<string> {
    return (await this.platform.uploadRelease(release.path)).id;
  }

  /** A campaign approved by the site admin: for `edges`, or every edge of the site. */
  async approve(releaseId: string, edges?: string[]): Promise<string> {
    return (
      await this.site.admin.createCampaign(this.site.orgId, this.site.siteId, {
        releaseId,
        ...(edges ? { edges } : {}),
      })
    ).id;
  }

  async cancel(campaignId: string): Promise<void> {
    await this.site.admin.cancelCampaign(this.site.orgId, this.site.siteId, campaignId);
  }

  /** Waits until the cloud shows `edgeId` in `state` for the campaign, and returns that edge's progress. */
  waitForProgress(campaignId: string, edgeId: string, state: string) {
    return waitFor(
      async () =>
        (await this.site.admin.getCampaign(this.site.orgId, this.site.siteId, campaignId)).progress.find(
          (p) => p.edgeId === edgeId && p.state === state,
        ),
      { what: `the cloud to show ${edgeId} ${state} in ${campaignId}`, timeoutMs: 20_000 },
    );
  }
}

/** A logger that keeps every record it writes (and their event names), so a test can count what the server did. */
export function capturingLogger(): { logger: Logger; events: string[]; records: Array<Record<string, unknown>> } {
  const events: string[] = [];
  const records: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    level: 'debug',
    write: (line: string) => {
      const record = JSON.parse(line) as { event: string };
      records.push(record);
      events.push(record.event);
      if (process.env.SITE_TEST_LOG) process.stderr.write(line.endsWith('\n') ? line : `${line}\n`);
    },
  });
  return { logger, events, records };
}

/** An edge's `P/update`, one message at a time (`null` for a clear). */
export class UpdateInbox {
  private readonly queue: Array<unknown | null> = [];

  constructor(client: MqttClient, topic: string) {
    client.on('message', (t, payload) => {
      if (t === topic) this.queue.push(payload.length === 0 ? null : JSON.parse(payload.toString()));
    });
  }

  /** The next message; bounded. */
  async next(what: string): Promise<any> {
    const box = await waitFor(() => (this.queue.length ? { value: this.queue.shift() } : undefined), {
      what,
      timeoutMs: 20_000,
    });
    return box.value;
  }

  get pending(): number {
    return this.queue.length;
  }
}

/** A report an edge would publish on `P/update/state`. */
export function stateReport(campaignId: string | null, state: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    campaignId,
    kind: 'runtime',
    name: 'consystence-edge',
    version: '2.0.0',
    state,
    runningVersion: '1.0.0',
    at: new Date().toISOString(),
    ...extra,
  });
}

export const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** A GET of an artifact URL, with an edge token and more headers: status, headers and the whole body. */
/**
 * A GET as a test client of the site server's listeners (http control or the self-signed https edge listener: the
 * device's trust in that certificate is tested elsewhere, this client only knocks). `cut`: the bytes that arrived
 * before the server cut the response (an error if it was not cut).
 */
function get(url: string, headers: Record<string, string>, cut = false) {
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise<{ status: number; headers: Headers; body: Buffer }>((resolve, reject) => {
    const req = send(url, { headers, rejectUnauthorized: false, agent: false, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      const answer = () => {
        const h = new Headers();
        for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') h.set(name, value);
        return { status: res.statusCode ?? 0, headers: h, body: Buffer.concat(chunks) };
      };
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => (cut ? reject(new Error('the download was not cut')) : resolve(answer())));
      res.on('aborted', () => (cut ? resolve(answer()) : reject(new Error('the download was cut'))));
      res.on('error', () => (cut ? resolve(answer()) : reject(new Error('the download was cut'))));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

export function download(url: string, token: string | undefined, headers: Record<string, string> = {}) {
  return get(url, { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers });
}

/** Reads a response until the server cuts it: the bytes that arrived before the cut. */
export async function downloadUntilCut(url: string, token: string): Promise<Buffer> {
  const answer = await get(url, { authorization: `Bearer ${token}` }, true);
  expect(answer.status).toBe(200);
  return answer.body;
}
