/**
 * Release uploads and listing (issue 13), in process: who may upload, what is refused (and that a refusal stores
 * nothing: no row, no file), repeated uploads, and who may download a bundle.
 */
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PLATFORM_ADMIN, DEMO_USERS } from '../../../src/mock/cloud/seed.js';
import { Roles } from '../../../src/protocol/index.js';
import { InProcessCloud, OUTSIDER } from './in-process.js';
import { releaseKey, runtimeBundle, signManifest, type ReleaseKey } from './release-fixtures.js';
import { siteWithEdges, upload } from './update-fixtures.js';

let cloud: InProcessCloud;
let key: ReleaseKey;
let platform: string;
let owner: string;
const bundleFiles = () => readdirSync(cloud.cloud.releasesDir);

beforeAll(async () => {
  key = await releaseKey();
  cloud = await InProcessCloud.start({ releaseKeys: [key.trusted] });
  platform = await cloud.token(DEMO_PLATFORM_ADMIN);
  owner = await cloud.token(DEMO_USERS.owner);
});
afterAll(() => cloud?.close());

describe('uploading a release', () => {
  it('a platform admin uploads; the same bytes again answer the same release; other bytes are a 409', async () => {
    const { bytes, manifest } = await runtimeBundle(key, { manifest: { version: '2.0.0', notes: 'fixes' } });
    const first = await upload(cloud, platform, bytes);
    expect(first.status, JSON.stringify(first.json)).toBe(201);
    expect(first.json).toMatchObject({
      kind: 'runtime',
      name: 'consystence-edge',
      version: '2.0.0',
      arch: 'x64',
      size: manifest.size,
      sha256: manifest.sha256,
      notes: 'fixes',
      kid: key.trusted.kid,
    });
    expect(bundleFiles()).toContain(`${first.json.id}.bundle`);

    const again = await upload(cloud, platform, bytes);
    expect([again.status, again.json.id]).toEqual([200, first.json.id]);

    const before = cloud.snapshot();
    const files = bundleFiles();
    const other = await runtimeBundle(key, { manifest: { version: '2.0.0' } });
    const conflict = await upload(cloud, platform, other.bytes);
    expect([conflict.status, conflict.json.error.code]).toEqual([409, 'CONFLICT']);
    expect(cloud.snapshot()).toEqual(before);
    expect(bundleFiles()).toEqual(files);
  });

  it.each(Roles.map((role) => ({ role })))('an organisation $role may not upload (403)', async ({ role }) => {
    const res = await upload(cloud, await cloud.token(DEMO_USERS[role]), (await runtimeBundle(key)).bytes);
    expect([res.status, res.json.error.code]).toEqual([403, 'FORBIDDEN']);
    expect(res.headers.get('Connection')).toBe('close');
  });

  it('without a token is 401', async () => {
    const res = await cloud.call({ method: 'POST', path: '/api/releases', rawBody: (await runtimeBundle(key)).bytes });
    expect(res.status).toBe(401);
  });

  const refusals: Array<{ name: string; code: string; bytes: () => Promise<Uint8Array> }> = [
    {
      name: 'signed by a key the cloud does not trust (forged)',
      code: 'BAD_SIGNATURE',
      bytes: async () => (await runtimeBundle(await releaseKey(key.trusted.kid))).bytes,
    },
    {
      name: 'unsigned (alg none)',
      code: 'BAD_SIGNATURE',
      bytes: async () => {
        const { bytes } = await runtimeBundle(key);
        const [jws, ...rest] = bytes.toString('latin1').split('\n');
        const [, payload] = jws!.split('.');
        const header = Buffer.from(JSON.stringify({ alg: 'none', kid: key.trusted.kid })).toString('base64url');
        return Buffer.from([`${header}.${payload}.`, ...rest].join('\n'), 'latin1');
      },
    },
    {
      name: 'a tampered artifact (same size, other bytes)',
      code: 'HASH_MISMATCH',
      bytes: async () => {
        const good = await runtimeBundle(key);
        const artifact = good.bytes.subarray(good.bytes.indexOf(0x0a) + 1);
        const tampered = Buffer.from(artifact);
        tampered.writeUInt8(tampered.at(-1)! ^ 0xff, tampered.length - 1);
        return (await runtimeBundle(key, { artifact: tampered })).bytes;
      },
    },
    {
      name: 'a truncated artifact',
      code: 'HASH_MISMATCH',
      bytes: async () => {
        const { bytes } = await runtimeBundle(key);
        return bytes.subarray(0, bytes.length - 5);
      },
    },
    {
      name: 'a document of another type signed by a trusted key',
      code: 'BAD_MANIFEST',
      bytes: async () => {
        const { bytes, manifest } = await runtimeBundle(key);
        const artifact = bytes.subarray(bytes.indexOf(0x0a) + 1);
        return Buffer.concat([Buffer.from(`${await signManifest(key, manifest, 'JWT')}\n`), artifact]);
      },
    },
    {
      name: 'a signed manifest that is not valid (runtime for arch any)',
      code: 'BAD_MANIFEST',
      bytes: async () => (await runtimeBundle(key, { manifest: { arch: 'any' } })).bytes,
    },
    {
      name: 'no manifest line at all',
      code: 'BAD_MANIFEST',
      bytes: async () => Buffer.alloc(20_000, 'a'),
    },
  ];

  it.each(refusals)('$name: 400 $code, nothing stored', async ({ code, bytes }) => {
    const before = cloud.snapshot();
    const files = bundleFiles();
    const res = await upload(cloud, platform, await bytes());
    expect([res.status, res.json.error.code], JSON.stringify(res.json)).toEqual([400, code]);
    expect(cloud.snapshot()).toEqual(before);
    expect(bundleFiles()).toEqual(files);
  });

  it('a body that is not application/octet-stream is refused before it is read', async () => {
    const res = await cloud.call({ method: 'POST', path: '/api/releases', bearer: platform, body: { a: 1 } });
    expect([res.status, res.json.error.code]).toEqual([400, 'VALIDATION_ERROR']);
  });
});

describe('listing releases', () => {
  beforeAll(async () => {
    for (const [version, arch] of [
      ['3.0.0', 'x64'],
      ['3.0.0', 'arm64'],
    ] as const)
      await cloud.ok({
        ...(await uploadCall((await runtimeBundle(key, { manifest: { version, arch } })).bytes)),
      });
  });
  const uploadCall = async (bytes: Uint8Array) => ({
    method: 'POST',
    path: '/api/releases',
    bearer: platform,
    rawBody: bytes,
    headers: { 'Content-Type': 'application/octet-stream' },
  });

  it.each([...Roles.map((role) => DEMO_USERS[role]), OUTSIDER])('%s lists them, filtered', async (email) => {
    const token = await cloud.token(email);
    const all = await cloud.ok({ method: 'GET', path: '/api/releases', bearer: token });
    expect(all.releases.length).toBeGreaterThanOrEqual(2);
    const arm = await cloud.ok({ method: 'GET', path: '/api/releases?arch=arm64&kind=runtime', bearer: token });
    expect(arm.releases.map((r: { arch: string }) => r.arch)).toEqual(['arm64']);
    const none = await cloud.ok({ method: 'GET', path: '/api/releases?name=another-product', bearer: token });
    expect(none.releases).toEqual([]);
  });

  it('a bad filter is 400; no token is 401', async () => {
    const bad = await cloud.call({ method: 'GET', path: '/api/releases?arch=sparc', bearer: owner });
    expect([bad.status, bad.json.error.details[0].field]).toEqual([400, 'arch']);
    expect((await cloud.call({ method: 'GET', path: '/api/releases' })).status).toBe(401);
  });
});

describe('downloading a bundle', () => {
  it('a platform admin may; an organisation owner may not; a site token only with an active campaign of its site', async () => {
    const { bytes } = await runtimeBundle(key, { manifest: { version: '4.0.0' } });
    const release = (await upload(cloud, platform, bytes)).json;
    const path = `/api/releases/${release.id}/bundle`;
    const site = await siteWithEdges(cloud, owner, 1);
    const otherSite = await siteWithEdges(cloud, owner, 1);

    const asAdmin = await cloud.cloud.app.request(`http://cloud.test${path}`, {
      headers: { Authorization: `Bearer ${platform}` },
    });
    expect(asAdmin.status).toBe(200);
    expect(Buffer.from(await asAdmin.arrayBuffer())).toEqual(bytes);

    expect((await cloud.call({ method: 'GET', path, bearer: owner })).status).toBe(403);
    expect((await cloud.call({ method: 'GET', path, bearer: site.siteToken })).json.error.code).toBe('FORBIDDEN');

    const campaign = await cloud.ok({
      method: 'POST',
      path: `${site.path}/update-campaigns`,
      bearer: owner,
      body: { releaseId: release.id },
    });
    expect((await cloud.call({ method: 'GET', path, bearer: site.siteToken })).status).toBe(200);
    expect((await cloud.call({ method: 'GET', path, bearer: otherSite.siteToken })).status).toBe(403);

    await cloud.ok({ method: 'POST', path: `${site.path}/update-campaigns/${campaign.id}/cancel`, bearer: owner });
    expect((await cloud.call({ method: 'GET', path, bearer: site.siteToken })).status).toBe(403);
  });

  it('an unknown release is 404, a malformed id 400, no token 401', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    expect(
      (await cloud.call({ method: 'GET', path: `/api/releases/${unknown}/bundle`, bearer: platform })).status,
    ).toBe(404);
    expect((await cloud.call({ method: 'GET', path: '/api/releases/nope/bundle', bearer: platform })).status).toBe(400);
    expect((await cloud.call({ method: 'GET', path: `/api/releases/${unknown}/bundle` })).status).toBe(401);
  });
});

describe('a key-rotation document', () => {
  const rotation = async (signer: ReleaseKey, keys: ReleaseKey[]) =>
    signManifest(
      signer,
      { typ: 'release-keys', sequence: 1, keys: keys.map((k) => k.trusted), issuedAt: '2026-11-26T00:00:00.000Z' },
      'consystence-release-keys+jws',
    );

  it('makes the cloud trust the rotated set only, and goes to the site server with every campaign', async () => {
    const next = await releaseKey('test-release-2');
    const document = await rotation(key, [next]);
    const rotated = await InProcessCloud.start({ releaseKeys: [key.trusted], releaseRotation: document });
    try {
      const admin = await rotated.token(DEMO_PLATFORM_ADMIN);
      const revoked = await upload(rotated, admin, (await runtimeBundle(key)).bytes);
      expect([revoked.status, revoked.json.error.code]).toEqual([400, 'BAD_SIGNATURE']);
      const signedByNext = await upload(rotated, admin, (await runtimeBundle(next)).bytes);
      expect([signedByNext.status, signedByNext.json.kid]).toEqual([201, 'test-release-2']);

      const ownerToken = await rotated.token(DEMO_USERS.owner);
      const site = await siteWithEdges(rotated, ownerToken, 1);
      await rotated.ok({
        method: 'POST',
        path: `${site.path}/update-campaigns`,
        bearer: ownerToken,
        body: { releaseId: signedByNext.json.id },
      });
      const seen = await rotated.ok({
        method: 'GET',
        path: `${site.path}/site-server/update-campaigns`,
        bearer: site.siteToken,
      });
      expect(seen.campaigns[0].releaseKeys).toBe(document);
    } finally {
      rotated.close();
    }
  });

  it('signed by a key the cloud does not trust stops the start', async () => {
    const stranger = await releaseKey('stranger');
    await expect(
      InProcessCloud.start({ releaseKeys: [key.trusted], releaseRotation: await rotation(stranger, [stranger]) }),
    ).rejects.toThrow(/untrusted key/);
  });
});
