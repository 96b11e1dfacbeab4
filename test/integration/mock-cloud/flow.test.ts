/**
 * The whole seed flow against the mock cloud running as its own process (the bin's entry under Node/tsx), over
 * real HTTP: org → site → list with counts → update → register-server → pairing code → register-edge → token
 * refresh → revoke → delete the site. Then every error code of CONTRACT §3, one by one.
 */
import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockCloudClient, MockCloudError, DEMO_PASSWORD, DEMO_USERS } from '../../../src/mock/cloud/index.js';
import { EdgeTokenClaims } from '../../../src/protocol/index.js';
import { startEntry, type Child } from '../../helpers/process.js';
import { testHardwareId } from '../../helpers/tmp.js';
import { assertion, demoSite, deviceKey, edgeBody } from './fixtures.js';

let child: Child;
let url: string;
let controlToken: string;
const owner = () => {
  const client = new MockCloudClient(url);
  client.setControlToken(controlToken);
  return client;
};

async function refused(promise: Promise<unknown>): Promise<MockCloudError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MockCloudError);
  return error as MockCloudError;
}

beforeAll(async () => {
  child = startEntry('node', 'src/mock/cloud/main.ts', ['--port', '0']);
  const line = await child.waitForLine((l) => l.event === 'listening', 30_000);
  url = String(line.url);
  controlToken = String(line.controlToken);
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
});
afterAll(async () => {
  await child?.kill('SIGTERM');
});

describe('the seed flow', () => {
  it('runs from a new organisation to a deleted site', async () => {
    const client = owner();
    const login = await client.login(DEMO_USERS.viewer, DEMO_PASSWORD);
    expect(login.tokenType).toBe('Bearer');
    expect(login.expiresIn).toBe(3600);

    // Any user may create an organisation and owns it.
    const org = await client.createOrganisation({
      name: 'Flow Co',
      slug: `flow-${randomUUID().slice(0, 8)}`,
      timezone: 'Australia/Perth',
    });
    expect(org.role).toBe('owner');
    expect((await client.listOrganisations()).map((o) => o.id)).toContain(org.id);

    const site = await client.createSite(org.id, demoSite('mt-arthur'));
    expect(site).toMatchObject({
      slug: 'mt-arthur',
      url: 'mt-arthur.consystence.site',
      status: 'provisioning',
      orgId: org.id,
    });
    expect(await client.listSites(org.id)).toEqual([
      expect.objectContaining({ id: site.id, deviceCount: 0, processCount: 0 }),
    ]);

    const updated = await client.updateSite(org.id, site.id, {
      name: 'Mt Arthur Coal',
      timezone: 'Australia/Brisbane',
    });
    expect(updated).toMatchObject({ name: 'Mt Arthur Coal', timezone: 'Australia/Brisbane', slug: 'mt-arthur' });

    const server = await client.registerServer(org.id, site.id, {
      hardwareId: 'server-fingerprint',
      version: '10.1.0',
      hostname: 'consystence-server.local',
      endpoints: { api: 'https://10.0.0.5:5000', mqtt: 'mqtt://10.0.0.5:1883' },
    });
    expect(server.config).toEqual({ orgId: org.id, siteId: site.id, clusteringMode: 'AdoNet' });
    expect((await client.getSite(org.id, site.id)).status).toBe('online');

    const pairing = await client.createPairingCode(org.id, site.id, { edgeId: 'orin-north-01' });
    expect(pairing.code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
    expect(pairing.pairingUri).toBe(
      `consystence-edge://pair?cloud=${encodeURIComponent(url)}&org=${org.id}&site=${site.id}&code=${pairing.code}&edge=orin-north-01`,
    );

    const key = await deviceKey('ES256');
    // A new organisation holds no licences until it is given some (here: minted through the control API).
    const [licenceKey] = await client.mintLicences(org.id, 1);
    const body = edgeBody(key, { licenceKey: licenceKey! });
    // The code is case- and dash-insensitive.
    const edge = await new MockCloudClient(url).registerEdge(org.id, site.id, body, {
      idempotencyKey: randomUUID(),
      pairingCode: pairing.code.toLowerCase().replace('-', ''),
    });
    expect(edge.config.siteServer).toEqual({
      url: 'https://10.0.0.5:5000',
      mqtt: {
        url: 'mqtt://10.0.0.5:1883',
        topicPrefix: `consystence/v1/sites/${site.id}/edges/orin-north-01`,
        keepaliveSeconds: 30,
      },
    });
    const claims = EdgeTokenClaims.parse(decodeJwt(edge.edgeToken));
    expect(claims).toMatchObject({
      sub: edge.id,
      edge: 'orin-north-01',
      site: site.id,
      org: org.id,
      hw: body.hardwareId,
      aud: `consystence-site:${site.id}`,
      iss: url,
    });
    expect(claims.exp - claims.iat).toBe(30 * 24 * 3600);

    const detail = await client.getSite(org.id, site.id);
    expect(detail.server).toMatchObject({ hostname: 'consystence-server.local' });
    expect(detail.edges).toEqual([expect.objectContaining({ id: edge.id, status: 'active' })]);
    expect(await client.listSites(org.id)).toEqual([expect.objectContaining({ deviceCount: 1 })]);
    // The site server sees the edges with its site token.
    expect(await client.listEdges(org.id, site.id, { siteToken: server.siteToken })).toHaveLength(1);

    const audience = client.edgeTokenUrl(org.id, site.id, 'orin-north-01');
    const jti = randomUUID();
    const refreshed = await client.refreshEdgeToken(
      org.id,
      site.id,
      'orin-north-01',
      await assertion(key, edge.id, audience, { jti }),
    );
    expect(EdgeTokenClaims.parse(decodeJwt(refreshed.edgeToken)).sub).toBe(edge.id);
    const replay = await refused(
      client.refreshEdgeToken(org.id, site.id, 'orin-north-01', await assertion(key, edge.id, audience, { jti })),
    );
    expect([replay.status, replay.code]).toEqual([401, 'ASSERTION_REPLAYED']);

    await client.revokeEdge(org.id, site.id, 'orin-north-01');
    expect((await client.listEdges(org.id, site.id))[0]).toMatchObject({
      status: 'revoked',
      revokedAt: expect.any(String),
    });
    const revoked = await refused(
      client.refreshEdgeToken(org.id, site.id, 'orin-north-01', await assertion(key, edge.id, audience)),
    );
    expect([revoked.status, revoked.code]).toEqual([401, 'EDGE_REVOKED']);

    // A second edge, then the site goes: its edges are revoked with it, and it is gone.
    const second = await client.registerEdge(
      org.id,
      site.id,
      edgeBody(await deviceKey('EdDSA'), { edgeId: 'orin-south-02' }),
      { idempotencyKey: randomUUID() },
    );
    await client.deleteSite(org.id, site.id);
    expect((await refused(client.getSite(org.id, site.id))).status).toBe(404);
    expect(await client.listSites(org.id)).toEqual([]);
    const afterDelete = await refused(client.refreshEdgeToken(org.id, site.id, 'orin-south-02', 'x.y.z'));
    expect(afterDelete.status).toBe(401);
    expect(second.id).not.toBe(edge.id);
  });
});

describe('every error code of CONTRACT §3', () => {
  let admin: MockCloudClient;
  let orgId: string;
  let siteId: string;

  beforeAll(async () => {
    admin = owner();
    await admin.login(DEMO_USERS.owner, DEMO_PASSWORD);
    orgId = (await admin.listOrganisations())[0]!.id;
    siteId = (await admin.createSite(orgId, demoSite())).id;
  });
  const device = () => new MockCloudClient(url);
  const code = async (options: { edgeId?: string; ttlSeconds?: number; purpose?: 'edge' | 'server' } = {}) =>
    (await admin.createPairingCode(orgId, siteId, options)).code;

  it('an Idempotency-Key is required and must be a UUID (400)', async () => {
    const error = await refused(
      device().registerEdge(orgId, siteId, edgeBody(await deviceKey()), {
        idempotencyKey: 'not-a-uuid',
        pairingCode: await code(),
      }),
    );
    expect([error.status, error.code, error.details[0]?.field]).toEqual([400, 'VALIDATION_ERROR', 'Idempotency-Key']);
  });

  it('the same key with the same body replays the 201; with another body it is IDEMPOTENCY_MISMATCH', async () => {
    const key = randomUUID();
    const pairingCode = await code();
    const body = edgeBody(await deviceKey(), { edgeId: 'idem-01' });
    const first = await device().registerEdge(orgId, siteId, body, { idempotencyKey: key, pairingCode });
    const again = await device().registerEdge(orgId, siteId, { ...body }, { idempotencyKey: key, pairingCode });
    expect(again).toEqual(first);
    const mismatch = await refused(
      device().registerEdge(orgId, siteId, { ...body, version: '9.9.9' }, { idempotencyKey: key, pairingCode }),
    );
    expect([mismatch.status, mismatch.code]).toEqual([409, 'IDEMPOTENCY_MISMATCH']);
  });

  it('an unknown or expired code is PAIRING_CODE_INVALID; a used one PAIRING_CODE_USED', async () => {
    const unknown = await refused(
      device().registerEdge(orgId, siteId, edgeBody(await deviceKey(), { edgeId: 'code-01' }), {
        idempotencyKey: randomUUID(),
        pairingCode: 'ZZZZ-ZZZZ',
      }),
    );
    expect([unknown.status, unknown.code]).toEqual([401, 'PAIRING_CODE_INVALID']);

    const shortLived = await code({ ttlSeconds: 60 });
    await admin.setClock(120);
    try {
      const expired = await refused(
        device().registerEdge(orgId, siteId, edgeBody(await deviceKey(), { edgeId: 'code-01' }), {
          idempotencyKey: randomUUID(),
          pairingCode: shortLived,
        }),
      );
      expect([expired.status, expired.code]).toEqual([401, 'PAIRING_CODE_INVALID']);
    } finally {
      await admin.setClock(0);
    }

    const once = await code();
    await device().registerEdge(orgId, siteId, edgeBody(await deviceKey(), { edgeId: 'code-01' }), {
      idempotencyKey: randomUUID(),
      pairingCode: once,
    });
    const used = await refused(
      device().registerEdge(orgId, siteId, edgeBody(await deviceKey(), { edgeId: 'code-02' }), {
        idempotencyKey: randomUUID(),
        pairingCode: once,
      }),
    );
    expect([used.status, used.code]).toEqual([401, 'PAIRING_CODE_USED']);
  });

  it('a code minted for one edge id pairs only that edge id (403), and is not burned by the refusal', async () => {
    const pinned = await code({ edgeId: 'pinned-01' });
    const wrong = await refused(
      device().registerEdge(orgId, siteId, edgeBody(await deviceKey(), { edgeId: 'pinned-02' }), {
        idempotencyKey: randomUUID(),
        pairingCode: pinned,
      }),
    );
    expect([wrong.status, wrong.code]).toEqual([403, 'FORBIDDEN']);
    await device().registerEdge(orgId, siteId, edgeBody(await deviceKey(), { edgeId: 'pinned-01' }), {
      idempotencyKey: randomUUID(),
      pairingCode: pinned,
    });
  });

  it('an edge id held by other hardware is EDGE_ID_TAKEN; the same hardware re-pairs and its old tokens die', async () => {
    const hardwareId = testHardwareId('repair');
    const oldKey = await deviceKey();
    const first = await admin.registerEdge(orgId, siteId, edgeBody(oldKey, { edgeId: 'taken-01', hardwareId }), {
      idempotencyKey: randomUUID(),
    });
    const taken = await refused(
      admin.registerEdge(orgId, siteId, edgeBody(await deviceKey(), { edgeId: 'taken-01' }), {
        idempotencyKey: randomUUID(),
      }),
    );
    expect([taken.status, taken.code]).toEqual([409, 'EDGE_ID_TAKEN']);

    const newKey = await deviceKey('EdDSA');
    const second = await admin.registerEdge(orgId, siteId, edgeBody(newKey, { edgeId: 'taken-01', hardwareId }), {
      idempotencyKey: randomUUID(),
    });
    expect(second.id).not.toBe(first.id);
    const edges = (await admin.listEdges(orgId, siteId)).filter((e) => e.edgeId === 'taken-01');
    expect(edges.map((e) => [e.id, e.status])).toEqual([
      [first.id, 'revoked'],
      [second.id, 'active'],
    ]);
    const audience = admin.edgeTokenUrl(orgId, siteId, 'taken-01');
    const old = await refused(
      admin.refreshEdgeToken(orgId, siteId, 'taken-01', await assertion(oldKey, first.id, audience)),
    );
    expect([old.status, old.code]).toEqual([401, 'EDGE_REVOKED']);
    await admin.refreshEdgeToken(orgId, siteId, 'taken-01', await assertion(newKey, second.id, audience));
  });

  it('a licence bound to other hardware is LICENCE_BOUND; an unknown one LICENCE_INVALID', async () => {
    const unknown = await refused(
      admin.registerEdge(
        orgId,
        siteId,
        edgeBody(await deviceKey(), { edgeId: 'lic-00', licenceKey: 'CST-EDGE-NOPE-NOPE-NOPE' }),
        { idempotencyKey: randomUUID() },
      ),
    );
    expect([unknown.status, unknown.code]).toEqual([403, 'LICENCE_INVALID']);

    const [licenceKey] = await admin.mintLicences(orgId, 1);
    await admin.registerEdge(
      orgId,
      siteId,
      edgeBody(await deviceKey(), { edgeId: 'lic-01', licenceKey: licenceKey! }),
      {
        idempotencyKey: randomUUID(),
      },
    );
    const bound = await refused(
      admin.registerEdge(orgId, siteId, edgeBody(await deviceKey(), { edgeId: 'lic-02', licenceKey: licenceKey! }), {
        idempotencyKey: randomUUID(),
      }),
    );
    expect([bound.status, bound.code]).toEqual([409, 'LICENCE_BOUND']);
  });

  it('a refresh assertion must be signed by the device key, for this URL, short-lived', async () => {
    const key = await deviceKey();
    const edge = await admin.registerEdge(orgId, siteId, edgeBody(key, { edgeId: 'assert-01' }), {
      idempotencyKey: randomUUID(),
    });
    const audience = admin.edgeTokenUrl(orgId, siteId, 'assert-01');
    const now = Math.floor(Date.now() / 1000);
    for (const bad of [
      await assertion(await deviceKey(), edge.id, audience), // another key
      await assertion(key, edge.id, `${audience}/x`), // another audience
      await assertion(key, edge.id, audience, { iat: now, exp: now + 301 }), // too long-lived
      await assertion(key, edge.id, audience, { iat: now - 1000, exp: now - 700 }), // expired
      await assertion(key, edge.id, audience, { iat: now + 365 * 86_400 }), // dated a year ahead
      await assertion(key, edge.id, audience, { iat: 4_102_444_800 }), // dated 2100
      await assertion(key, edge.id, audience, { iat: now + 120 }), // past the minute of leeway
    ]) {
      const error = await refused(admin.refreshEdgeToken(orgId, siteId, 'assert-01', bad));
      expect([error.status, error.code]).toEqual([401, 'INVALID_TOKEN']);
    }
  });

  it('a public key that is not a point on P-256 is refused and nothing is stored', async () => {
    const key = await deviceKey();
    const y = Buffer.from((key.publicJwk as { y: string }).y, 'base64url');
    y[31]! ^= 1;
    const offCurve = { ...key.publicJwk, y: y.toString('base64url') } as typeof key.publicJwk;
    const error = await refused(
      admin.registerEdge(orgId, siteId, edgeBody(key, { edgeId: 'curve-01', publicKey: offCurve }), {
        idempotencyKey: randomUUID(),
      }),
    );
    expect([error.status, error.code, error.details[0]?.field]).toEqual([400, 'VALIDATION_ERROR', 'publicKey']);
    expect((await admin.listEdges(orgId, siteId)).filter((e) => e.edgeId === 'curve-01')).toEqual([]);
  });

  it('an idempotent replay of register-edge after the edge was revoked is EDGE_REVOKED, not the old token', async () => {
    const body = edgeBody(await deviceKey(), { edgeId: 'replay-01' });
    const idempotencyKey = randomUUID();
    await admin.registerEdge(orgId, siteId, body, { idempotencyKey });
    await admin.revokeEdge(orgId, siteId, 'replay-01');
    const error = await refused(admin.registerEdge(orgId, siteId, body, { idempotencyKey }));
    expect([error.status, error.code]).toEqual([401, 'EDGE_REVOKED']);
  });

  it('register-server takes a site-server pairing code once; a code pinned to an edge cannot register a server', async () => {
    const body = { hardwareId: 'server-hw', version: '10.1.0', hostname: 'srv.local' };
    const pairingCode = await code({ purpose: 'server' });
    const registered = await device().registerServer(orgId, siteId, body, { pairingCode });
    expect(registered.config.siteId).toBe(siteId);
    const used = await refused(device().registerServer(orgId, siteId, body, { pairingCode }));
    expect([used.status, used.code]).toEqual([401, 'PAIRING_CODE_USED']);
    const pinned = await refused(
      device().registerServer(orgId, siteId, body, { pairingCode: await code({ edgeId: 'edge-01' }) }),
    );
    expect([pinned.status, pinned.code]).toEqual([403, 'FORBIDDEN']);
    // Re-registering retires the previous site token.
    const again = await admin.registerServer(orgId, siteId, body);
    const stale = await refused(device().listEdges(orgId, siteId, { siteToken: registered.siteToken }));
    expect([stale.status, stale.code]).toEqual([401, 'SITE_SERVER_REPLACED']);
    await device().listEdges(orgId, siteId, { siteToken: again.siteToken });
  });

  it('a deleted site is 404 for register-edge', async () => {
    const doomed = (await admin.createSite(orgId, demoSite())).id;
    const pairingCode = (await admin.createPairingCode(orgId, doomed)).code;
    await admin.deleteSite(orgId, doomed);
    const error = await refused(
      device().registerEdge(orgId, doomed, edgeBody(await deviceKey()), { idempotencyKey: randomUUID(), pairingCode }),
    );
    expect([error.status, error.code]).toEqual([404, 'NOT_FOUND']);
  });
});
