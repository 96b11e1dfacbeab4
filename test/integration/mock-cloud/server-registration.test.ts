/**
 * Who may register a site server, and how a replaced one is told (issue 12 item 9); what a token refresh tells an
 * edge about where its site server is now (issue 17). A real mock cloud on loopback, driven over HTTP.
 */
import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEMO_ORG_ID,
  DEMO_PASSWORD,
  DEMO_USERS,
  MockCloudClient,
  startMockCloud,
} from '../../../src/mock/cloud/index.js';
import { EdgeTokenClaims, siteConnectionHash } from '../../../src/protocol/index.js';
import { assertion, demoSite, deviceKey, edgeBody, refused } from './fixtures.js';

let cloud: { url: string; close(): Promise<void> };
let admin: MockCloudClient;
let engineer: MockCloudClient;

const server = (hardwareId: string, port: number, ca?: string) => ({
  hardwareId,
  version: '1.0.0',
  hostname: 'srv.local',
  endpoints: {
    api: `http://127.0.0.1:${port}`,
    mqtt: `mqtt://127.0.0.1:${port + 1}`,
    ...(ca ? { caCertificatePem: ca } : {}),
  },
});

async function newSite(): Promise<string> {
  return (await admin.createSite(DEMO_ORG_ID, demoSite())).id;
}

beforeAll(async () => {
  cloud = await startMockCloud({ port: 0 });
  admin = new MockCloudClient(cloud.url);
  await admin.login(DEMO_USERS.admin, DEMO_PASSWORD);
  engineer = new MockCloudClient(cloud.url);
  await engineer.login(DEMO_USERS.engineer, DEMO_PASSWORD);
});
afterAll(async () => {
  await cloud?.close();
});

describe('pairing codes are bound to what they register', () => {
  it('an engineer cannot replace the site server: edge codes are refused by register-server, server codes need admin+', async () => {
    const siteId = await newSite();
    const original = await admin.registerServer(DEMO_ORG_ID, siteId, server('real-hw', 40000));

    // The attack from the field: an engineer mints a plain code and re-registers the site with their endpoints.
    const edgeCode = (await engineer.createPairingCode(DEMO_ORG_ID, siteId)).code;
    const withEdgeCode = await refused(
      new MockCloudClient(cloud.url).registerServer(DEMO_ORG_ID, siteId, server('rogue-hw', 41000), {
        pairingCode: edgeCode,
      }),
    );
    expect([withEdgeCode.status, withEdgeCode.code]).toEqual([403, 'FORBIDDEN']);
    const mint = await refused(engineer.createPairingCode(DEMO_ORG_ID, siteId, { purpose: 'server' }));
    expect([mint.status, mint.code]).toEqual([403, 'FORBIDDEN']);
    const asEngineer = await refused(engineer.registerServer(DEMO_ORG_ID, siteId, server('rogue-hw', 41000)));
    expect([asEngineer.status, asEngineer.code]).toEqual([403, 'FORBIDDEN']);

    // Nothing changed: the real server's token still works and edges are still sent to it.
    await new MockCloudClient(cloud.url).listEdges(DEMO_ORG_ID, siteId, { siteToken: original.siteToken });
    const edge = await admin.registerEdge(DEMO_ORG_ID, siteId, edgeBody(await deviceKey(), { edgeId: 'e1' }), {
      idempotencyKey: randomUUID(),
    });
    expect(edge.config.siteServer.url).toBe('http://127.0.0.1:40000');
  });

  it('a server code cannot pair an edge, and cannot name one', async () => {
    const siteId = await newSite();
    const serverCode = await admin.createPairingCode(DEMO_ORG_ID, siteId, { purpose: 'server' });
    expect(serverCode.purpose).toBe('server');
    const error = await refused(
      new MockCloudClient(cloud.url).registerEdge(DEMO_ORG_ID, siteId, edgeBody(await deviceKey()), {
        idempotencyKey: randomUUID(),
        pairingCode: serverCode.code,
      }),
    );
    expect([error.status, error.code]).toEqual([403, 'FORBIDDEN']);
    const named = await refused(admin.createPairingCode(DEMO_ORG_ID, siteId, { purpose: 'server', edgeId: 'e1' }));
    expect([named.status, named.code]).toEqual([400, 'VALIDATION_ERROR']);
    // The refusal did not burn it: it still registers a server.
    await new MockCloudClient(cloud.url).registerServer(DEMO_ORG_ID, siteId, server('hw', 40010), {
      pairingCode: serverCode.code,
    });
  });
});

describe('replacing and moving a site server', () => {
  it('a replaced server hears SITE_SERVER_REPLACED, distinct from a bad token', async () => {
    const siteId = await newSite();
    const first = await admin.registerServer(DEMO_ORG_ID, siteId, server('first-hw', 40020));
    const code = (await admin.createPairingCode(DEMO_ORG_ID, siteId, { purpose: 'server' })).code;
    await new MockCloudClient(cloud.url).registerServer(DEMO_ORG_ID, siteId, server('second-hw', 40030), {
      pairingCode: code,
    });
    const old = new MockCloudClient(cloud.url);
    const edges = await refused(old.listEdges(DEMO_ORG_ID, siteId, { siteToken: first.siteToken }));
    expect([edges.status, edges.code]).toEqual([401, 'SITE_SERVER_REPLACED']);
    // Nor can it take the site back with its retired token.
    const back = await refused(
      old.registerServer(DEMO_ORG_ID, siteId, server('first-hw', 40020), { pairingCode: first.siteToken }),
    );
    expect([back.status, back.code]).toEqual([401, 'SITE_SERVER_REPLACED']);
  });

  it('the registered server moves with its own site token (same token back); another machine cannot', async () => {
    const siteId = await newSite();
    const first = await admin.registerServer(DEMO_ORG_ID, siteId, server('hw-a', 40040));
    const self = new MockCloudClient(cloud.url);
    const moved = await self.registerServer(DEMO_ORG_ID, siteId, server('hw-a', 40050), {
      pairingCode: first.siteToken,
    });
    expect(moved.siteToken).toBe(first.siteToken);
    await self.listEdges(DEMO_ORG_ID, siteId, { siteToken: first.siteToken });
    const other = await refused(
      self.registerServer(DEMO_ORG_ID, siteId, server('hw-b', 40060), { pairingCode: first.siteToken }),
    );
    expect([other.status, other.code]).toEqual([403, 'FORBIDDEN']);
  });
});

describe('token refresh carries the site connection, signed', () => {
  it("the answer's connection is the current registration and its hash is the token's cfg claim", async () => {
    const siteId = await newSite();
    await admin.registerServer(DEMO_ORG_ID, siteId, server('hw', 40070));
    const key = await deviceKey();
    const edge = await admin.registerEdge(DEMO_ORG_ID, siteId, edgeBody(key, { edgeId: 'follow-01' }), {
      idempotencyKey: randomUUID(),
    });
    await admin.registerServer(DEMO_ORG_ID, siteId, server('hw-new', 40080));
    const audience = admin.edgeTokenUrl(DEMO_ORG_ID, siteId, 'follow-01');
    const answer = await new MockCloudClient(cloud.url).refreshEdgeToken(
      DEMO_ORG_ID,
      siteId,
      'follow-01',
      await assertion(key, edge.id, audience),
    );
    expect(answer.connection).toEqual({ url: 'http://127.0.0.1:40080', mqtt: { url: 'mqtt://127.0.0.1:40081' } });
    const claims = EdgeTokenClaims.parse(decodeJwt(answer.edgeToken));
    expect(claims.cfg).toBe(siteConnectionHash(answer.connection!));
  });
});
