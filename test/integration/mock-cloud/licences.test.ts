/**
 * Licences in the mock cloud (issue 15): licences belong to an organisation, register-edge checks them (also when a
 * site server relays an edge with its site token), admins list them, export an offline licence file for a site
 * server's registered signing key, and site servers report bindings made offline. A real mock cloud on loopback,
 * driven over HTTP with the typed client.
 */
import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, createRemoteJWKSet, decodeJwt, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEMO_LICENCE_KEYS,
  DEMO_ORG_ID,
  DEMO_PASSWORD,
  DEMO_PLATFORM_ADMIN,
  DEMO_USERS,
  MockCloudClient,
  startMockCloud,
} from '../../../src/mock/cloud/index.js';
import {
  EdgeTokenClaims,
  LICENCE_JWS_TYPE,
  licenceHash,
  MAX_BINDINGS_PER_REPORT,
  MAX_REQUEST_BYTES,
  type LicenceBindingReport,
} from '../../../src/protocol/index.js';
import { testHardwareId } from '../../helpers/tmp.js';
import { demoSite, deviceKey, edgeBody, refused } from './fixtures.js';
import { OUTSIDER, SEED_WITH_OUTSIDER } from './in-process.js';
import { siteSigningKey, verifyWithBuiltInKeys } from './licence-fixtures.js';

let cloud: { url: string; controlToken: string; close(): Promise<void> };
let admin: MockCloudClient;

async function as(email: string): Promise<MockCloudClient> {
  const client = new MockCloudClient(cloud.url);
  await client.login(email, DEMO_PASSWORD);
  return client;
}

/** A new site of the demo organisation with a registered server; the server's site token and signing key. */
async function siteWithServer(options: { signingKey?: boolean } = {}) {
  const siteId = (await admin.createSite(DEMO_ORG_ID, demoSite())).id;
  const signing = await siteSigningKey();
  const hardwareId = testHardwareId('server');
  const { siteToken } = await admin.registerServer(DEMO_ORG_ID, siteId, {
    hardwareId,
    version: '1.0.0',
    hostname: 'site-server.local',
    endpoints: { api: 'https://127.0.0.1:5000', mqtt: 'mqtts://127.0.0.1:8883' },
    ...(options.signingKey === false ? {} : { signingKey: signing.publicJwk }),
  });
  return { siteId, siteToken, signing, hardwareId };
}

async function licenceOf(key: string) {
  const { licences } = await admin.listLicences(DEMO_ORG_ID);
  return licences.find((l) => l.key === key);
}

/** Fresh licences of the demo organisation, so tests do not share bindings. */
async function freshLicences(count: number): Promise<string[]> {
  const control = new MockCloudClient(cloud.url);
  control.setControlToken(cloud.controlToken);
  return control.mintLicences(DEMO_ORG_ID, count);
}

beforeAll(async () => {
  cloud = await startMockCloud({ port: 0, seed: SEED_WITH_OUTSIDER });
  admin = await as(DEMO_USERS.admin);
});
afterAll(async () => {
  await cloud?.close();
});

describe('licences belong to an organisation', () => {
  it('the seed gives the demo organisation its documented keys, free', async () => {
    const { licences } = await admin.listLicences(DEMO_ORG_ID);
    for (const key of DEMO_LICENCE_KEYS) expect(licences).toContainEqual({ key, binding: null, conflicts: [] });
    expect(DEMO_LICENCE_KEYS).toEqual([
      'CST-EDGE-DEMO-0000-0001',
      'CST-EDGE-DEMO-0000-0002',
      'CST-EDGE-DEMO-0000-0003',
      'CST-EDGE-DEMO-0000-0004',
      'CST-EDGE-DEMO-0000-0005',
    ]);
  });

  it.each([
    [DEMO_USERS.owner, 200],
    [DEMO_USERS.admin, 200],
    [DEMO_PLATFORM_ADMIN, 200],
    [DEMO_USERS.engineer, 403],
    [DEMO_USERS.operator, 403],
    [DEMO_USERS.viewer, 403],
    [OUTSIDER, 403],
  ])('listing needs admin+: %s → %i', async (email, status) => {
    const client = await as(email);
    if (status === 200) expect((await client.listLicences(DEMO_ORG_ID)).licences.length).toBeGreaterThan(0);
    else expect((await refused(client.listLicences(DEMO_ORG_ID))).status).toBe(status);
  });

  it('listing without a token is 401, for an unknown organisation 404', async () => {
    expect((await refused(new MockCloudClient(cloud.url).listLicences(DEMO_ORG_ID))).status).toBe(401);
    expect((await refused(admin.listLicences(randomUUID()))).status).toBe(404);
  });

  it('register-edge binds a key; the same hardware re-pairs with it; other hardware is LICENCE_BOUND', async () => {
    const siteId = (await admin.createSite(DEMO_ORG_ID, demoSite())).id;
    const [licenceKey] = await freshLicences(1);
    const hardwareId = testHardwareId('bound');
    const first = await admin.registerEdge(
      DEMO_ORG_ID,
      siteId,
      edgeBody(await deviceKey(), { edgeId: 'lic-a', hardwareId, licenceKey }),
      { idempotencyKey: randomUUID() },
    );
    expect((await licenceOf(licenceKey!))?.binding).toEqual({
      edgeId: 'lic-a',
      siteId,
      hardwareId,
      boundAt: expect.any(String),
      via: 'cloud',
    });
    const boundAt = (await licenceOf(licenceKey!))?.binding?.boundAt;

    const again = await admin.registerEdge(
      DEMO_ORG_ID,
      siteId,
      edgeBody(await deviceKey(), { edgeId: 'lic-a2', hardwareId, licenceKey }),
      { idempotencyKey: randomUUID() },
    );
    expect(again.id).not.toBe(first.id);
    // The binding follows the device's newest registration and keeps when the key was first burned.
    expect((await licenceOf(licenceKey!))?.binding).toMatchObject({ edgeId: 'lic-a2', hardwareId, boundAt });

    const other = await refused(
      admin.registerEdge(DEMO_ORG_ID, siteId, edgeBody(await deviceKey(), { edgeId: 'lic-b', licenceKey }), {
        idempotencyKey: randomUUID(),
      }),
    );
    expect([other.status, other.code, other.details[0]?.field]).toEqual([409, 'LICENCE_BOUND', 'licenceKey']);
  });

  it("an unknown key, or another organisation's, is LICENCE_INVALID and burns neither code nor key", async () => {
    const siteId = (await admin.createSite(DEMO_ORG_ID, demoSite())).id;
    const outsider = await as(OUTSIDER);
    const otherOrg = await outsider.createOrganisation({
      name: 'Other Co',
      slug: `other-${randomUUID().slice(0, 8)}`,
      timezone: 'Australia/Perth',
    });
    const control = new MockCloudClient(cloud.url);
    control.setControlToken(cloud.controlToken);
    const [foreignKey] = await control.mintLicences(otherOrg.id, 1);
    const { code } = await admin.createPairingCode(DEMO_ORG_ID, siteId);

    for (const licenceKey of ['CST-EDGE-ZZZZ-ZZZZ-ZZZZ', foreignKey!]) {
      const error = await refused(
        new MockCloudClient(cloud.url).registerEdge(
          DEMO_ORG_ID,
          siteId,
          edgeBody(await deviceKey(), { edgeId: 'invalid-01', licenceKey }),
          { idempotencyKey: randomUUID(), pairingCode: code },
        ),
      );
      expect([error.status, error.code, error.details[0]?.field]).toEqual([403, 'LICENCE_INVALID', 'licenceKey']);
      // The same message for both: the answer does not reveal that a key exists elsewhere.
      expect(error.message).toBe("the licence key is not one of this organisation's edge licences");
    }
    const foreign = (await outsider.listLicences(otherOrg.id)).licences;
    expect(foreign).toEqual([{ key: foreignKey, binding: null, conflicts: [] }]);
    // The code was not burned by the refusals.
    await new MockCloudClient(cloud.url).registerEdge(
      DEMO_ORG_ID,
      siteId,
      edgeBody(await deviceKey(), { edgeId: 'invalid-01' }),
      { idempotencyKey: randomUUID(), pairingCode: code },
    );
  });

  it('the control API mints licences only with the control token, only for an existing organisation', async () => {
    const noToken = await refused(new MockCloudClient(cloud.url).mintLicences(DEMO_ORG_ID, 1));
    expect(noToken.status).toBe(401);
    const control = new MockCloudClient(cloud.url);
    control.setControlToken(cloud.controlToken);
    expect((await refused(control.mintLicences(randomUUID(), 1))).status).toBe(404);
    expect((await refused(control.mintLicences(DEMO_ORG_ID, 0))).status).toBe(400);
    const minted = await control.mintLicences(DEMO_ORG_ID, 3);
    expect(minted).toHaveLength(3);
    for (const key of minted) expect(key).toMatch(/^CST-EDGE-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
  });
});

describe('the site server relays a registration with its site token', () => {
  it('a licence key and the site token register the edge; the answer is the normal one', async () => {
    const { siteId, siteToken } = await siteWithServer();
    const [licenceKey] = await freshLicences(1);
    const key = await deviceKey();
    const body = edgeBody(key, { edgeId: 'relayed-01', licenceKey });
    const idempotencyKey = randomUUID();
    const relay = new MockCloudClient(cloud.url);
    const edge = await relay.registerEdge(DEMO_ORG_ID, siteId, body, { idempotencyKey, siteToken });
    expect(edge).toMatchObject({ edgeId: 'relayed-01', orgId: DEMO_ORG_ID, siteId });
    expect(edge.config.siteServer.url).toBe('https://127.0.0.1:5000');
    // The token is the cloud's: it verifies against the cloud's key set, as the device checks it.
    const { payload } = await jwtVerify(
      edge.edgeToken,
      createRemoteJWKSet(new URL(`${cloud.url}/.well-known/jwks.json`)),
      {
        algorithms: ['ES256'],
      },
    );
    expect(EdgeTokenClaims.parse(payload)).toMatchObject({ sub: edge.id, site: siteId, hw: body.hardwareId });
    // A replay through the site server (the device retrying) answers the same.
    expect(await relay.registerEdge(DEMO_ORG_ID, siteId, body, { idempotencyKey, siteToken })).toEqual(edge);
    expect((await licenceOf(licenceKey!))?.binding).toMatchObject({ edgeId: 'relayed-01', siteId, via: 'cloud' });
  });

  it("the cloud's refusals reach the relay unchanged: unknown key 403, bound key 409", async () => {
    const { siteId, siteToken } = await siteWithServer();
    const relay = new MockCloudClient(cloud.url);
    const unknown = await refused(
      relay.registerEdge(
        DEMO_ORG_ID,
        siteId,
        edgeBody(await deviceKey(), { edgeId: 'relayed-02', licenceKey: 'CST-EDGE-ZZZZ-ZZZZ-ZZZZ' }),
        { idempotencyKey: randomUUID(), siteToken },
      ),
    );
    expect([unknown.status, unknown.code]).toEqual([403, 'LICENCE_INVALID']);
    const [licenceKey] = await freshLicences(1);
    await relay.registerEdge(DEMO_ORG_ID, siteId, edgeBody(await deviceKey(), { edgeId: 'relayed-03', licenceKey }), {
      idempotencyKey: randomUUID(),
      siteToken,
    });
    const bound = await refused(
      relay.registerEdge(DEMO_ORG_ID, siteId, edgeBody(await deviceKey(), { edgeId: 'relayed-04', licenceKey }), {
        idempotencyKey: randomUUID(),
        siteToken,
      }),
    );
    expect([bound.status, bound.code]).toEqual([409, 'LICENCE_BOUND']);
  });

  it('a site token registers no edge without a licence key (403), nor at another site (403)', async () => {
    const { siteId, siteToken } = await siteWithServer();
    const other = await siteWithServer();
    const relay = new MockCloudClient(cloud.url);
    const noKey = await refused(
      relay.registerEdge(DEMO_ORG_ID, siteId, edgeBody(await deviceKey(), { edgeId: 'relayed-05' }), {
        idempotencyKey: randomUUID(),
        siteToken,
      }),
    );
    expect([noKey.status, noKey.code]).toEqual([403, 'FORBIDDEN']);
    const [licenceKey] = await freshLicences(1);
    const elsewhere = await refused(
      relay.registerEdge(DEMO_ORG_ID, siteId, edgeBody(await deviceKey(), { edgeId: 'relayed-06', licenceKey }), {
        idempotencyKey: randomUUID(),
        siteToken: other.siteToken,
      }),
    );
    expect([elsewhere.status, elsewhere.code]).toEqual([403, 'FORBIDDEN']);
    expect((await licenceOf(licenceKey!))?.binding).toBeNull();
  });

  it("a replaced server's site token is SITE_SERVER_REPLACED", async () => {
    const { siteId, siteToken } = await siteWithServer();
    await admin.registerServer(DEMO_ORG_ID, siteId, {
      hardwareId: testHardwareId('replacement'),
      version: '1.0.0',
      hostname: 'new-server.local',
    });
    const [licenceKey] = await freshLicences(1);
    const error = await refused(
      new MockCloudClient(cloud.url).registerEdge(
        DEMO_ORG_ID,
        siteId,
        edgeBody(await deviceKey(), { edgeId: 'relayed-07', licenceKey }),
        { idempotencyKey: randomUUID(), siteToken },
      ),
    );
    expect([error.status, error.code]).toEqual([401, 'SITE_SERVER_REPLACED']);
  });
});

describe('register-server takes the site server signing key', () => {
  it.each([
    ['without a kid', async () => ({ ...(await siteSigningKey()).publicJwk, kid: undefined })],
    [
      'of another type (Ed25519)',
      async () => {
        const { kty, crv, x } = await exportJWK((await generateKeyPair('EdDSA', { extractable: true })).publicKey);
        return { kty, crv, x, kid: await calculateJwkThumbprint({ kty, crv, x } as never) };
      },
    ],
    ['with a private member', async () => ({ ...(await siteSigningKey()).publicJwk, d: 'A'.repeat(43) })],
  ])('a key %s is a 400 on signingKey, and nothing is stored', async (_, makeKey) => {
    const siteId = (await admin.createSite(DEMO_ORG_ID, demoSite())).id;
    const error = await refused(
      admin.registerServer(DEMO_ORG_ID, siteId, {
        hardwareId: testHardwareId('server'),
        version: '1.0.0',
        hostname: 'site-server.local',
        signingKey: (await makeKey()) as never,
      }),
    );
    expect([error.status, error.code, error.details[0]?.field]).toEqual([400, 'VALIDATION_ERROR', 'signingKey']);
    expect((await admin.getSite(DEMO_ORG_ID, siteId)).status).toBe('provisioning');
  });
});

describe('the site server key offline licences name', () => {
  it('is kept when the server updates itself without one, and cleared when another server replaces it', async () => {
    const { siteId, siteToken, signing, hardwareId } = await siteWithServer();
    const moved = { hardwareId, version: '1.0.1', hostname: 'site-server.local' };
    await new MockCloudClient(cloud.url).registerServer(DEMO_ORG_ID, siteId, moved, { pairingCode: siteToken });
    const { licenceFile } = await admin.exportOfflineLicence(DEMO_ORG_ID, siteId);
    expect((await verifyWithBuiltInKeys(licenceFile)).siteServerKey).toEqual(signing.publicJwk);

    await admin.registerServer(DEMO_ORG_ID, siteId, { ...moved, hardwareId: testHardwareId('replacement') });
    expect((await refused(admin.exportOfflineLicence(DEMO_ORG_ID, siteId))).status).toBe(409);
  });
});

describe('the offline licence file', () => {
  it('is signed with the cloud licence key the device has built in, and names the site, its licences and key', async () => {
    const { siteId, signing } = await siteWithServer();
    const [free, boundHere] = await freshLicences(2);
    await admin.registerEdge(
      DEMO_ORG_ID,
      siteId,
      edgeBody(await deviceKey(), { edgeId: 'offline-01', licenceKey: boundHere }),
      { idempotencyKey: randomUUID() },
    );
    const exported = await admin.exportOfflineLicence(DEMO_ORG_ID, siteId);
    const claims = await verifyWithBuiltInKeys(exported.licenceFile);
    expect(claims).toMatchObject({
      typ: 'offline-licence',
      iss: cloud.url,
      org: DEMO_ORG_ID,
      site: siteId,
      siteServerKey: signing.publicJwk,
    });
    // By default every licence not yet bound, and only those, each named by its site-bound hash: the file reaches
    // every device the site server registers, so no licence key may be readable in it.
    expect(claims.licenceHashes).toContain(licenceHash(siteId, free!));
    expect(claims.licenceHashes).not.toContain(licenceHash(siteId, boundHere!));
    expect(exported.licences).toBe(claims.licenceHashes.length);
    const payload = Buffer.from(exported.licenceFile.split('.')[1]!, 'base64url').toString();
    for (const key of DEMO_LICENCE_KEYS) expect(payload).not.toContain(key);
    expect(payload).not.toMatch(/CST-EDGE/);
    expect(Math.abs(claims.iat - Date.now() / 1000)).toBeLessThan(300);
    expect(JSON.parse(Buffer.from(exported.licenceFile.split('.')[0]!, 'base64url').toString())).toMatchObject({
      alg: 'ES256',
      typ: LICENCE_JWS_TYPE,
    });

    // Named keys: free ones and ones bound at this site are fine.
    const named = await admin.exportOfflineLicence(DEMO_ORG_ID, siteId, { licenceKeys: [free!, boundHere!] });
    expect((await verifyWithBuiltInKeys(named.licenceFile)).licenceHashes).toEqual(
      [free!, boundHere!].map((key) => licenceHash(siteId, key)),
    );
  });

  it('a tampered file does not verify', async () => {
    const { siteId } = await siteWithServer();
    const { licenceFile } = await admin.exportOfflineLicence(DEMO_ORG_ID, siteId);
    const [header, payload, signature] = licenceFile.split('.');
    const claims = decodeJwt(licenceFile);
    const forged = Buffer.from(
      JSON.stringify({ ...claims, licenceHashes: [licenceHash(siteId, 'CST-EDGE-FAKE-FAKE-FAKE')] }),
    ).toString('base64url');
    expect(forged).not.toBe(payload);
    await expect(verifyWithBuiltInKeys(`${header}.${forged}.${signature}`)).rejects.toThrow();
  });

  it('names only keys of this organisation not bound at another site (400 naming each)', async () => {
    const { siteId } = await siteWithServer();
    const otherSite = (await admin.createSite(DEMO_ORG_ID, demoSite())).id;
    const [boundElsewhere, free] = await freshLicences(2);
    await admin.registerEdge(
      DEMO_ORG_ID,
      otherSite,
      edgeBody(await deviceKey(), { edgeId: 'elsewhere-01', licenceKey: boundElsewhere }),
      { idempotencyKey: randomUUID() },
    );
    const error = await refused(
      admin.exportOfflineLicence(DEMO_ORG_ID, siteId, {
        licenceKeys: [free!, 'CST-EDGE-ZZZZ-ZZZZ-ZZZZ', boundElsewhere!],
      }),
    );
    expect([error.status, error.code]).toEqual([400, 'VALIDATION_ERROR']);
    expect(error.details).toEqual([
      { field: 'licenceKeys.1', message: 'not a licence of this organisation' },
      { field: 'licenceKeys.2', message: 'bound to an edge at another site' },
    ]);
  });

  it('is a 409 when the free licences would make a file larger than the contract allows', async () => {
    const owner = await as(OUTSIDER);
    const org = await owner.createOrganisation({ name: 'Big Co', slug: `big-${randomUUID().slice(0, 8)}` });
    const control = new MockCloudClient(cloud.url);
    control.setControlToken(cloud.controlToken);
    for (let i = 0; i < 8; i++) await control.mintLicences(org.id, 1000);
    const siteId = (await owner.createSite(org.id, demoSite())).id;
    await owner.registerServer(org.id, siteId, {
      hardwareId: testHardwareId('server'),
      version: '1.0.0',
      hostname: 'site-server.local',
      signingKey: (await siteSigningKey()).publicJwk,
    });
    const tooMany = await refused(owner.exportOfflineLicence(org.id, siteId));
    expect([tooMany.status, tooMany.code]).toEqual([409, 'CONFLICT']);
    expect(tooMany.message).toMatch(/name fewer with licenceKeys/);
    const some = (await owner.listLicences(org.id)).licences.slice(0, 10).map((l) => l.key);
    expect((await owner.exportOfflineLicence(org.id, siteId, { licenceKeys: some })).licences).toBe(10);
  });

  it('is a 409 when the site server registered no signing key, or no server is registered', async () => {
    const { siteId } = await siteWithServer({ signingKey: false });
    const noKey = await refused(admin.exportOfflineLicence(DEMO_ORG_ID, siteId));
    expect([noKey.status, noKey.code]).toEqual([409, 'CONFLICT']);
    expect(noKey.message).toMatch(/signing key/);
    const bare = (await admin.createSite(DEMO_ORG_ID, demoSite())).id;
    expect((await refused(admin.exportOfflineLicence(DEMO_ORG_ID, bare))).status).toBe(409);
    expect((await refused(admin.exportOfflineLicence(DEMO_ORG_ID, randomUUID()))).status).toBe(404);
  });

  it.each([
    [DEMO_USERS.owner, 200],
    [DEMO_PLATFORM_ADMIN, 200],
    [DEMO_USERS.engineer, 403],
    [DEMO_USERS.viewer, 403],
    [OUTSIDER, 403],
  ])('exporting needs admin+: %s → %i', async (email, status) => {
    const { siteId } = await siteWithServer();
    const client = await as(email);
    if (status === 200) await client.exportOfflineLicence(DEMO_ORG_ID, siteId);
    else expect((await refused(client.exportOfflineLicence(DEMO_ORG_ID, siteId))).status).toBe(status);
  });
});

describe('a site server reports the bindings it made offline', () => {
  async function offlineBinding(licenceKey: string, overrides: Partial<LicenceBindingReport['bindings'][number]> = {}) {
    return {
      licenceKey,
      edgeId: 'offline-edge',
      edgeUuid: randomUUID(),
      hardwareId: testHardwareId('offline'),
      publicKey: (await deviceKey()).publicJwk,
      boundAt: new Date().toISOString(),
      ...overrides,
    };
  }

  it('records the binding and the edge registration; the same report again is known', async () => {
    const { siteId, siteToken } = await siteWithServer();
    const [licenceKey] = await freshLicences(1);
    const binding = await offlineBinding(licenceKey!);
    const site = new MockCloudClient(cloud.url);
    const report = { bindings: [binding] };
    expect(await site.reportLicenceBindings(DEMO_ORG_ID, siteId, report, siteToken)).toEqual({
      results: [{ licenceKey, status: 'recorded' }],
    });
    expect((await licenceOf(licenceKey!))?.binding).toEqual({
      edgeId: 'offline-edge',
      siteId,
      hardwareId: binding.hardwareId,
      boundAt: binding.boundAt,
      via: 'site',
    });
    const edges = await admin.listEdges(DEMO_ORG_ID, siteId);
    expect(edges).toEqual([
      expect.objectContaining({
        id: binding.edgeUuid,
        edgeId: 'offline-edge',
        status: 'active',
        hardwareId: binding.hardwareId,
      }),
    ]);

    expect(await site.reportLicenceBindings(DEMO_ORG_ID, siteId, report, siteToken)).toEqual({
      results: [{ licenceKey, status: 'known' }],
    });
    expect(await admin.listEdges(DEMO_ORG_ID, siteId)).toEqual(edges);
  });

  it('a key bound to other hardware, or at another site, is a conflict kept for admins; the binding stays', async () => {
    const first = await siteWithServer();
    const second = await siteWithServer();
    const [licenceKey] = await freshLicences(1);
    const original = await offlineBinding(licenceKey!);
    const site = new MockCloudClient(cloud.url);
    await site.reportLicenceBindings(DEMO_ORG_ID, first.siteId, { bindings: [original] }, first.siteToken);

    const otherHardware = await offlineBinding(licenceKey!, { edgeId: 'other-hw' });
    const sameHardwareElsewhere = await offlineBinding(licenceKey!, { hardwareId: original.hardwareId });
    expect(
      await site.reportLicenceBindings(DEMO_ORG_ID, first.siteId, { bindings: [otherHardware] }, first.siteToken),
    ).toEqual({ results: [{ licenceKey, status: 'conflict' }] });
    expect(
      await site.reportLicenceBindings(
        DEMO_ORG_ID,
        second.siteId,
        { bindings: [sameHardwareElsewhere] },
        second.siteToken,
      ),
    ).toEqual({ results: [{ licenceKey, status: 'conflict' }] });
    // Reporting a conflict again keeps one entry for it.
    await site.reportLicenceBindings(DEMO_ORG_ID, first.siteId, { bindings: [otherHardware] }, first.siteToken);

    const licence = await licenceOf(licenceKey!);
    expect(licence?.binding).toMatchObject({ hardwareId: original.hardwareId, siteId: first.siteId });
    expect(licence?.conflicts).toEqual([
      {
        edgeId: 'other-hw',
        siteId: first.siteId,
        hardwareId: otherHardware.hardwareId,
        boundAt: otherHardware.boundAt,
        via: 'site',
      },
      {
        edgeId: 'offline-edge',
        siteId: second.siteId,
        hardwareId: original.hardwareId,
        boundAt: sameHardwareElsewhere.boundAt,
        via: 'site',
      },
    ]);
    // Neither conflicting edge was registered.
    expect((await admin.listEdges(DEMO_ORG_ID, second.siteId)).map((e) => e.id)).toEqual([]);
    expect((await admin.listEdges(DEMO_ORG_ID, first.siteId)).map((e) => e.id)).toEqual([original.edgeUuid]);
  });

  it('a key the cloud bound (register-edge) and a site reports for other hardware is a conflict', async () => {
    const { siteId, siteToken } = await siteWithServer();
    const [licenceKey] = await freshLicences(1);
    await admin.registerEdge(DEMO_ORG_ID, siteId, edgeBody(await deviceKey(), { edgeId: 'cloud-bound', licenceKey }), {
      idempotencyKey: randomUUID(),
    });
    const result = await new MockCloudClient(cloud.url).reportLicenceBindings(
      DEMO_ORG_ID,
      siteId,
      { bindings: [await offlineBinding(licenceKey!)] },
      siteToken,
    );
    expect(result.results[0]?.status).toBe('conflict');
    expect((await licenceOf(licenceKey!))?.binding?.via).toBe('cloud');
  });

  it('the largest report the contract allows fits the request size cap', async () => {
    const { siteId, siteToken } = await siteWithServer();
    const keys = await freshLicences(MAX_BINDINGS_PER_REPORT);
    const publicKey = {
      ...(await siteSigningKey()).publicJwk,
      kid: 'k'.repeat(128),
      alg: 'ES256',
      use: 'sig',
    } as const;
    const bindings = keys.map((licenceKey, i) => ({
      licenceKey,
      edgeId: `${String(i).padStart(3, '0')}-${'e'.repeat(59)}`,
      edgeUuid: randomUUID(),
      hardwareId: testHardwareId(`largest-${i}`),
      publicKey,
      boundAt: '2026-11-26T17:31:01.123456789+10:00',
    }));
    const body = JSON.stringify({ bindings });
    expect(body.length).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
    const result = await new MockCloudClient(cloud.url).reportLicenceBindings(
      DEMO_ORG_ID,
      siteId,
      { bindings },
      siteToken,
    );
    expect(result.results.every((r) => r.status === 'recorded')).toBe(true);
  });

  it('needs the site token of that site; a key the organisation does not hold refuses the whole report', async () => {
    const { siteId, siteToken } = await siteWithServer();
    const other = await siteWithServer();
    const [licenceKey] = await freshLicences(1);
    const report = { bindings: [await offlineBinding(licenceKey!)] };
    const site = new MockCloudClient(cloud.url);
    expect((await refused(site.reportLicenceBindings(DEMO_ORG_ID, siteId, report, 'not-a-token'))).status).toBe(401);
    // An admin's access token is not a site token.
    const adminLogin = await new MockCloudClient(cloud.url).login(DEMO_USERS.admin, DEMO_PASSWORD);
    expect(
      (await refused(site.reportLicenceBindings(DEMO_ORG_ID, siteId, report, adminLogin.accessToken))).status,
    ).toBe(401);
    const elsewhere = await refused(site.reportLicenceBindings(DEMO_ORG_ID, siteId, report, other.siteToken));
    expect([elsewhere.status, elsewhere.code]).toEqual([403, 'FORBIDDEN']);

    const mixed = { bindings: [...report.bindings, await offlineBinding('CST-EDGE-ZZZZ-ZZZZ-ZZZZ')] };
    const invalid = await refused(site.reportLicenceBindings(DEMO_ORG_ID, siteId, mixed, siteToken));
    expect([invalid.status, invalid.code, invalid.details[0]?.field]).toEqual([
      403,
      'LICENCE_INVALID',
      'bindings.1.licenceKey',
    ]);
    expect((await licenceOf(licenceKey!))?.binding).toBeNull();
    expect(await admin.listEdges(DEMO_ORG_ID, siteId)).toEqual([]);

    const malformed = await refused(
      site.reportLicenceBindings(DEMO_ORG_ID, siteId, { bindings: [] } as LicenceBindingReport, siteToken),
    );
    expect([malformed.status, malformed.code]).toEqual([400, 'VALIDATION_ERROR']);
  });
});

describe('another licence signing key', () => {
  it('signs with the key it was given: its kid in the header, and the development keys do not verify it', async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    const jwk = await exportJWK(pair.privateKey);
    const kid = `production-${randomUUID()}`;
    const other = await startMockCloud({
      port: 0,
      licenceSigningJwk: { kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y!, d: jwk.d!, kid },
    });
    try {
      const client = new MockCloudClient(other.url);
      await client.login(DEMO_USERS.admin, DEMO_PASSWORD);
      const siteId = (await client.createSite(DEMO_ORG_ID, demoSite())).id;
      await client.registerServer(DEMO_ORG_ID, siteId, {
        hardwareId: testHardwareId('server'),
        version: '1.0.0',
        hostname: 'site-server.local',
        signingKey: (await siteSigningKey()).publicJwk,
      });
      const { licenceFile } = await client.exportOfflineLicence(DEMO_ORG_ID, siteId);
      await jwtVerify(licenceFile, pair.publicKey, { algorithms: ['ES256'], typ: LICENCE_JWS_TYPE });
      expect(JSON.parse(Buffer.from(licenceFile.split('.')[0]!, 'base64url').toString()).kid).toBe(kid);
      await expect(verifyWithBuiltInKeys(licenceFile)).rejects.toThrow(/no built-in licence key/);
    } finally {
      await other.close();
    }
  });
});
