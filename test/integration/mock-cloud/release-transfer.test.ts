/**
 * Bundles over real sockets (issue 13): an oversized upload is cut off at the cap while streaming (413, nothing
 * left on disk, the server still serves), `Range` on the bundle download, and the CLI process: `--release-keys`,
 * `--db` keeping releases across a restart, and an upload cut by SIGKILL leaving nothing behind after the restart.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEMO_ORG_ID,
  DEMO_PASSWORD,
  DEMO_PLATFORM_ADMIN,
  DEMO_USERS,
  MockCloudClient,
} from '../../../src/mock/cloud/index.js';
import { startCloudServer, type RunningCloud } from '../../../src/mock/cloud/server.js';
import { commandFor, runToEnd, startEntry } from '../../helpers/process.js';
import { tempDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { demoSite } from './fixtures.js';
import { releaseKey, runtimeBundle, type ReleaseKey } from './release-fixtures.js';

const MAX_BUNDLE_BYTES = 256 * 1024;
let key: ReleaseKey;
let running: RunningCloud;
let platform: MockCloudClient;

async function signedIn(url: string, email: string): Promise<MockCloudClient> {
  const client = new MockCloudClient(url);
  await client.login(email, DEMO_PASSWORD);
  return client;
}

function bundleFile(bytes: Buffer): string {
  const path = join(tempDir('bundle-'), 'release.bundle');
  writeFileSync(path, bytes);
  return path;
}

/**
 * Sends a first line and then `total` bytes in 16 KiB chunks without a Content-Length (chunked), as a client
 * that does not say how much it sends: only the cap enforced while streaming can stop it.
 */
function chunkedUpload(url: string, token: string, total: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/api/releases`,
      {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/octet-stream' },
      },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    // The server may close before all is sent: that is the point. Only a missing answer fails the test.
    req.on('error', (error) => (req.writableEnded ? undefined : reject(error)));
    req.write('a.b.c\n');
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        sent += 16 * 1024;
        if (!req.write(Buffer.alloc(16 * 1024, 0x41))) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

beforeAll(async () => {
  key = await releaseKey();
  running = await startCloudServer({ releaseKeys: [key.trusted], maxBundleBytes: MAX_BUNDLE_BYTES });
  platform = await signedIn(running.url, DEMO_PLATFORM_ADMIN);
});
afterAll(() => running?.close());

describe('an oversized upload', () => {
  it('is refused with 413 once it passes the cap while streaming, and leaves nothing on disk', async () => {
    const token = (await platform.login(DEMO_PLATFORM_ADMIN, DEMO_PASSWORD)).accessToken;
    const res = await chunkedUpload(running.url, token, MAX_BUNDLE_BYTES * 4);
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(readdirSync(running.cloud.releasesDir)).toEqual([]);
    expect(await platform.listReleases()).toEqual([]);
    // The server is still serving.
    expect((await platform.health()).ok).toBe(true);
  });

  it('is refused by its Content-Length before any of it is read', async () => {
    const token = (await platform.login(DEMO_PLATFORM_ADMIN, DEMO_PASSWORD)).accessToken;
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${running.url}/api/releases`, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${token}`,
          'Content-Type': 'application/octet-stream',
          'Content-Length': String(MAX_BUNDLE_BYTES + 1),
        },
      });
      req.on('response', (res) => resolve(res.statusCode ?? 0));
      req.on('error', reject);
      req.flushHeaders(); // headers only: the answer must not wait for the body
    });
    expect(status).toBe(413);
    expect(readdirSync(running.cloud.releasesDir)).toEqual([]);
  });
});

describe('the bundle download', () => {
  it('serves the whole bundle with its ETag, a range from an offset as 206, and 416 beyond the end', async () => {
    const { bytes } = await runtimeBundle(key, { content: randomBytes(50_000) });
    const release = await platform.uploadRelease(bundleFile(bytes));
    const whole = await platform.downloadReleaseBundle(release.id);
    expect(whole.status).toBe(200);
    expect(whole.body).toEqual(bytes);
    expect(whole.headers['accept-ranges']).toBe('bytes');
    expect(whole.headers.etag).toMatch(/^"[0-9a-f]{64}"$/);

    const offset = 1000;
    const rest = await platform.downloadReleaseBundle(release.id, { range: `bytes=${offset}-` });
    expect(rest.status).toBe(206);
    expect(rest.headers['content-range']).toBe(`bytes ${offset}-${bytes.length - 1}/${bytes.length}`);
    expect(rest.body).toEqual(bytes.subarray(offset));

    const middle = await platform.downloadReleaseBundle(release.id, { range: 'bytes=10-19' });
    expect([middle.status, middle.body]).toEqual([206, bytes.subarray(10, 20)]);

    const beyond = await platform.downloadReleaseBundle(release.id, { range: `bytes=${bytes.length}-` });
    expect(beyond.status).toBe(416);
    expect(beyond.headers['content-range']).toBe(`bytes */${bytes.length}`);
  });
});

describe('the CLI', () => {
  const ENTRY = 'src/mock/cloud/main.ts';
  const PUBLIC_URL = 'http://cloud.rig.test';
  async function start(args: string[]) {
    const child = startEntry('node', ENTRY, args);
    const line = await child.waitForLine((l) => l.event === 'listening', 30_000);
    return { child, url: String(line.url) };
  }

  it('trusts --release-keys, keeps releases with --db across a restart, and sweeps what a SIGKILL left', async () => {
    const dir = tempDir('mock-cloud-');
    const db = join(dir, 'cloud.db');
    const keysFile = join(dir, 'release-keys.json');
    writeFileSync(keysFile, JSON.stringify({ sequence: 0, keys: [key.trusted] }));
    const first = await start(['--db', db, '--public-url', PUBLIC_URL, '--release-keys', keysFile]);
    const admin = await signedIn(first.url, DEMO_PLATFORM_ADMIN);
    const { bytes } = await runtimeBundle(key, { manifest: { version: '5.0.0' } });
    const release = await admin.uploadRelease(bundleFile(bytes));

    // An upload in flight when the process dies leaves a part file...
    const token = (await admin.login(DEMO_PLATFORM_ADMIN, DEMO_PASSWORD)).accessToken;
    const cut = new Promise<void>((resolve) => {
      const req = request(`${first.url}/api/releases`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/octet-stream' },
      });
      req.on('error', () => resolve());
      req.write(bytes.subarray(0, 1000));
    });
    await waitFor(() => readdirSync(`${db}.releases`).some((name) => name.endsWith('.part')), {
      what: 'the part file of the upload in flight',
    });
    expect(await first.child.kill('SIGKILL')).toMatchObject({ signal: 'SIGKILL' });
    await cut;
    // A bundle moved into place whose row never committed (the crash between the rename and the transaction).
    writeFileSync(join(`${db}.releases`, '00000000-0000-4000-8000-000000000000.bundle'), bytes);

    // ...which the next start removes, with the orphan bundle; the release and its bundle survive.
    const second = await start(['--db', db, '--public-url', PUBLIC_URL, '--release-keys', keysFile]);
    try {
      expect(readdirSync(`${db}.releases`)).toEqual([`${release.id}.bundle`]);
      const again = await signedIn(second.url, DEMO_PLATFORM_ADMIN);
      expect((await again.listReleases()).map((r) => r.id)).toEqual([release.id]);
      expect((await again.downloadReleaseBundle(release.id)).body).toEqual(bytes);
      // The owner sees it and may approve it for a site.
      const owner = await signedIn(second.url, DEMO_USERS.owner);
      const site = await owner.createSite(DEMO_ORG_ID, demoSite());
      const campaign = await owner.createCampaign(DEMO_ORG_ID, site.id, { releaseId: release.id });
      expect(campaign).toMatchObject({ state: 'active', edges: null, progress: [] });
    } finally {
      await second.child.kill('SIGTERM');
    }
    expect(existsSync(db)).toBe(true);
  });

  it('refuses a --release-keys file that is not a key set (exit 2)', async () => {
    const keysFile = join(tempDir('mock-cloud-'), 'keys.json');
    writeFileSync(keysFile, JSON.stringify({ keys: [{ kid: 'x' }] }));
    const { command, args } = commandFor('node', ENTRY);
    const result = await runToEnd(command, [...args, '--release-keys', keysFile], { timeoutMs: 30_000 });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--release-keys .*keys\.json: /);
  });
});
